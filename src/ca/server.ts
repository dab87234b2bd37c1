import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createApp, listen } from '../server/index.js';
import { createTokenVerifier, type TokenVerifierOptions } from '../oidc/verify.js';
import { toFulcioConfiguration, type OidcConfig } from '../oidc/config.js';
import { toPem } from '../crypto/index.js';
import {
  CA_FILES,
  DEFAULT_CA_CURVE,
  loadOrCreateCa,
  loadOrCreateKey,
  type CaCurve,
  type CaMaterial,
} from './keys.js';
import { createCertificateIssuer, type CertificateIssuer } from './issue.js';
import { checkProofOfPossession, parseSigningCertRequest } from './request.js';
import { createCtLog, type CtLog } from './ct/log.js';
import { registerCtRoutes } from './ct/routes.js';

export const DEFAULT_CA_PORT = 5555;
/** Fulcio requests are small: a token, a key and a signature. */
export const CA_BODY_LIMIT = 64 * 1024;

export interface CaServerConfig {
  /** Holds the CA keys and certificates, the CT log key and the CT log database. */
  dataDir: string;
  host?: string;
  port: number;
  /** Trusted OIDC issuers (`--oidc-issuers FILE`, parsed with parseOidcConfig). */
  oidc: OidcConfig;
  /** Curve of a newly created root and intermediate (default P-256). */
  curve?: CaCurve;
  /** Run without the CT log (certificates then carry no SCT; the detached response form is used). */
  disableCt?: boolean;
  /** Token verifier tuning (skew, JWKS refresh); issuers come from `oidc`. */
  tokenOptions?: Omit<TokenVerifierOptions, 'issuers'>;
  logLevel?: string;
  maxInFlight?: number;
  /** PEM serving certificate (chain) and key: HTTPS instead of HTTP. */
  tls?: { cert: string; key: string };
}

export interface CaServer {
  url: string;
  ca: CaMaterial;
  ct: CtLog | undefined;
  issuer: CertificateIssuer;
  close(): Promise<void>;
}

/**
 * The certificate authority: Fulcio v2 HTTP API (`POST /api/v2/signingCert`, `GET
 * /api/v2/trustBundle`, `GET /api/v2/configuration`), legacy `GET /api/v1/rootCert`, and the
 * CT log's read endpoints under /ct/v1/ (plus `GET /ct/v1/public-key`).
 */
export async function createCaServer(config: CaServerConfig): Promise<CaServer> {
  const ca = await loadOrCreateCa(config.dataDir, config.curve ?? DEFAULT_CA_CURVE);
  const ct = config.disableCt
    ? undefined
    : await createCtLog({
        dataDir: config.dataDir,
        key: loadOrCreateKey(join(config.dataDir, CA_FILES.ctKey)),
        acceptedRoots: [ca.rootDer],
      });
  const issuer = createCertificateIssuer(ca, ct);
  const verifier = createTokenVerifier({ ...config.tokenOptions, issuers: config.oidc.issuers });
  const app = createApp({
    logLevel: config.logLevel ?? 'warn',
    bodyLimit: CA_BODY_LIMIT,
    ...(config.maxInFlight ? { maxInFlight: config.maxInFlight } : {}),
    ...(config.tls ? { https: config.tls } : {}),
  });
  caRoutes(
    app,
    ca,
    config.oidc,
    async (body, auth) => {
      const req = await parseSigningCertRequest(body, auth);
      const principal = await verifier.verify(req.token);
      checkProofOfPossession(req.key, principal.name);
      return issuer.issue(principal, req.key.spki);
    },
    ct !== undefined,
  );
  if (ct) registerCtRoutes(app, ct);
  let url: string;
  try {
    url = await listen(app, config.port, config.host ?? '127.0.0.1');
  } catch (e) {
    await ct?.close();
    throw e;
  }
  return {
    url,
    ca,
    ct,
    issuer,
    async close() {
      await app.close();
      await ct?.close();
    },
  };
}

function caRoutes(
  app: FastifyInstance,
  ca: CaMaterial,
  oidc: OidcConfig,
  sign: (body: unknown, auth: string | undefined) => Promise<{ chain: string[] }>,
  embedded: boolean,
): void {
  app.post('/api/v2/signingCert', async (req, reply) => {
    const { chain } = await sign(req.body, req.headers.authorization);
    const certificates = { chain: { certificates: chain } };
    reply.status(200);
    return embedded
      ? { signedCertificateEmbeddedSct: certificates }
      : { signedCertificateDetachedSct: certificates };
  });
  app.get('/api/v2/trustBundle', async () => ({ chains: [{ certificates: ca.chainPem }] }));
  const configuration = toFulcioConfiguration(oidc);
  app.get('/api/v2/configuration', async () => configuration);
  app.get('/api/v1/rootCert', async (_req, reply) => {
    reply.type('application/pem-certificate-chain');
    return ca.chainPem.join('');
  });
  app.get('/api/v2/rootCert', async (_req, reply) => {
    reply.type('application/pem-certificate-chain');
    return toPem('CERTIFICATE', ca.rootDer);
  });
}
