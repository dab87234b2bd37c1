import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SigilError } from '../errors/index.js';
import { createApp, listen } from '../server/index.js';
import { InFlightLimit } from '../server/raw-http.js';
import { DEFAULT_TSA_POLICY } from './asn1.js';
import { loadOrCreateTsa, loadTsa, type TsaMaterial } from './keys.js';
import { MAX_DER_REQUEST_BYTES, refusalOf } from './request.js';
import { createTimestampRoute, parseByType, TIMESTAMP_PATH } from './route.js';
import { SerialAllocator } from './serial.js';
import { createTimestamper } from './token.js';

export const DEFAULT_TSA_PORT = 5580;
export const TSA_SERIAL_FILE = 'tsa-serial';
export { TIMESTAMP_PATH };
export const CERTCHAIN_PATH = '/api/v1/timestamp/certchain';

export interface TsaServerConfig {
  /** Holds the serial high-water mark, and the TSA key and chain unless `keyFile` is given. */
  dataDir: string;
  /** The TSA key and chain from these files instead of dataDir (never created). */
  keyFile?: string;
  chainFile?: string;
  host?: string;
  port: number;
  /** The policy OID of every token (default sigstore's 1.3.6.1.4.1.57264.2). */
  policy?: string;
  /** Further policies a request may ask for by reqPolicy. */
  acceptedPolicies?: string[];
  /** Stated accuracy of genTime in milliseconds (default 1000). */
  accuracyMs?: number;
  logLevel?: string;
  maxInFlight?: number;
  tls?: { cert: string; key: string };
  /**
   * How POST /api/v1/timestamp is served: 'node' (default) on the plain node:http request,
   * 'fastify' through Fastify's pipeline; and which token builder: 'template' (default) or
   * 'library'. Both alternatives are kept for the benchmark's A/B and as the reference.
   */
  hotPath?: { http?: 'node' | 'fastify'; builder?: 'template' | 'library' };
  /** Where serials come from (a cluster worker's leases); default the data dir's allocator. */
  serials?: { take(): bigint | Promise<bigint> };
}

export interface TsaServer {
  url: string;
  /** The full timestamp URL (what a SigningConfig lists: TSA URLs are full URLs). */
  timestampUrl: string;
  material: TsaMaterial;
  close(): Promise<void>;
}

/**
 * RFC 3161 timestamp authority with the HTTP API of sigstore's timestamp-authority:
 * `POST /api/v1/timestamp` (DER `application/timestamp-query` or the JSON form) answered with a
 * DER `application/timestamp-reply`, and `GET /api/v1/timestamp/certchain` (PEM, leaf first).
 */
export async function createTsaServer(config: TsaServerConfig): Promise<TsaServer> {
  if ((config.keyFile === undefined) !== (config.chainFile === undefined))
    throw new SigilError('INVALID_INPUT', 'the TSA key file and chain file go together');
  const material =
    config.keyFile !== undefined && config.chainFile !== undefined
      ? loadTsa(config.keyFile, config.chainFile)
      : await loadOrCreateTsa(config.dataDir);
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const policy = config.policy ?? DEFAULT_TSA_POLICY;
  const accepted = [policy, ...(config.acceptedPolicies ?? [])];
  const serials = config.serials ?? new SerialAllocator(join(config.dataDir, TSA_SERIAL_FILE));
  const nextSerial = (): bigint | Promise<bigint> => serials.take();
  const timestamper = createTimestamper({
    key: material.key,
    chainDer: material.chainDer,
    policy,
    nextSerial: () => {
      const s = serials.take();
      if (typeof s !== 'bigint') throw new Error('grant needs a serial from the route');
      return s;
    },
    ...(config.accuracyMs !== undefined ? { accuracyMs: config.accuracyMs } : {}),
    ...(config.hotPath?.builder ? { builder: config.hotPath.builder } : {}),
  });
  const inFlight = config.maxInFlight ? new InFlightLimit(config.maxInFlight) : undefined;
  let onInternal: (e: unknown) => void = () => {};
  const app = createApp({
    logLevel: config.logLevel ?? 'warn',
    bodyLimit: MAX_DER_REQUEST_BYTES,
    ...(inFlight ? { inFlight } : {}),
    ...(config.tls ? { https: config.tls } : {}),
    ...(config.hotPath?.http === 'fastify'
      ? {}
      : {
          fastRoute: createTimestampRoute({
            timestamper,
            nextSerial,
            acceptedPolicies: accepted,
            ...(inFlight ? { inFlight } : {}),
            onInternal: (e) => onInternal(e),
          }),
        }),
  });
  onInternal = (e) => app.log.error({ err: e }, 'timestamp request failed');
  // Both request forms are parsed here from the raw bytes (the JSON nonce may exceed 2^53).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.post(TIMESTAMP_PATH, async (req, reply) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const request = parseByType(req.headers['content-type'], body);
    const refusal = refusalOf(request, accepted);
    reply.type('application/timestamp-reply');
    if (refusal) return timestamper.refuse(refusal);
    return timestamper.grant(request, await nextSerial()).der;
  });
  app.get(CERTCHAIN_PATH, async (_req, reply) => {
    reply.type('application/pem-certificate-chain');
    return material.chainPem;
  });
  app.get('/ping', async (_req, reply) => {
    reply.type('text/plain');
    return 'pong';
  });
  const url = await listen(app, config.port, config.host ?? '127.0.0.1');
  return { url, timestampUrl: `${url}${TIMESTAMP_PATH}`, material, close: () => app.close() };
}
