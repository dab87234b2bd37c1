import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { pino, type Logger } from 'pino';
import { isSigilError, SigilError } from '../errors/index.js';
import { createApp, listen } from '../server/index.js';
import {
  createTagDigestCache,
  VerificationCache,
  DEFAULT_CACHE_MAX_ENTRIES,
  DEFAULT_CACHE_TTL_MS,
} from './cache.js';
import {
  AdmissionEngine,
  DEFAULT_EXCLUDED_NAMESPACES,
  DEFAULT_TIMEOUT_MS,
  type Mode,
  type RuleVerdict,
} from './engine.js';
import { AdmissionMetrics } from './metrics.js';
import type { FailurePolicy, ImagePolicy } from './policy/types.js';
import { admissionResponse, parseAdmissionReview } from './review.js';
import { generateServingTls, serviceDnsNames } from './tls.js';
import type { ImageSource, SignatureVerifier } from './verifier.js';

export const DEFAULT_ADMISSION_PORT = 9443;
/** AdmissionReviews carry whole objects; Kubernetes itself caps requests at 3 MiB. */
export const DEFAULT_ADMISSION_BODY_LIMIT = 3 * 1024 * 1024;
export const DEFAULT_SERVICE = { name: 'sigil-admission', namespace: 'sigil-system' } as const;

export interface AdmissionServerConfig {
  policies: readonly ImagePolicy[];
  source: ImageSource;
  verifier: SignatureVerifier;
  host?: string;
  /** 0 picks a free port (default 9443). */
  port?: number;
  /** PEM serving certificate (chain) and key; when absent a self-signed CA + certificate is generated. */
  tls?: { cert: string; key: string };
  /** Extra DNS SANs for a generated certificate (the Service's names are always included). */
  dnsNames?: readonly string[];
  service?: { name: string; namespace: string };
  excludedNamespaces?: readonly string[];
  failurePolicy?: FailurePolicy;
  timeoutMs?: number;
  cache?: { ttlMs?: number; maxEntries?: number };
  /** Short-lived tag → digest cache for tags pinned by the patch; off unless ttlMs > 0 (see TagDigestCache). */
  tagCache?: { ttlMs?: number; maxEntries?: number };
  bodyLimit?: number;
  /** pino level (default 'info': one JSON line per decision; 'silent' in tests). */
  logLevel?: string;
}

export interface AdmissionServer {
  url: string;
  app: FastifyInstance;
  engine: AdmissionEngine;
  metrics: AdmissionMetrics;
  /** base64 PEM of the CA to put in the webhook configurations' `caBundle` (generated certificates only). */
  caBundle?: string;
  /** PEM of that CA (so a client can trust the server). */
  caPem?: string;
  close(): Promise<void>;
}

/**
 * The HTTPS admission webhook: POST /validate and POST /mutate take an `admission.k8s.io/v1`
 * AdmissionReview and answer with the same uid; /healthz, /readyz, /metrics.
 */
export async function createAdmissionServer(config: AdmissionServerConfig): Promise<AdmissionServer> {
  const service = config.service ?? DEFAULT_SERVICE;
  const generated = config.tls
    ? undefined
    : await generateServingTls([
        ...serviceDnsNames(service.name, service.namespace),
        ...(config.dnsNames ?? []),
      ]);
  const tls = config.tls ?? { cert: generated!.cert, key: generated!.key };
  const cache = new VerificationCache<RuleVerdict>({
    ttlMs: config.cache?.ttlMs ?? DEFAULT_CACHE_TTL_MS,
    maxEntries: config.cache?.maxEntries ?? DEFAULT_CACHE_MAX_ENTRIES,
  });
  const tagCache = createTagDigestCache(config.tagCache);
  const engine = new AdmissionEngine({
    policies: config.policies,
    source: config.source,
    verifier: config.verifier,
    excludedNamespaces: config.excludedNamespaces ?? DEFAULT_EXCLUDED_NAMESPACES,
    failurePolicy: config.failurePolicy ?? 'Fail',
    timeoutMs: config.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    cache,
    ...(tagCache ? { tagCache } : {}),
  });
  const metrics = new AdmissionMetrics(cache as VerificationCache<unknown>);
  const app = createApp({
    bodyLimit: config.bodyLimit ?? DEFAULT_ADMISSION_BODY_LIMIT,
    logLevel: config.logLevel ?? 'info',
    https: tls,
  });

  // One JSON line per decision on stdout, written asynchronously: under load the lines of many
  // decisions leave in one write instead of one blocking write each. Flushed on close.
  const level = config.logLevel ?? 'info';
  const destination = level === 'silent' ? undefined : pino.destination({ dest: 1, sync: false });
  const decisionLog: Logger | undefined = destination
    ? pino({ level, base: { pid: process.pid } }, destination)
    : undefined;

  const handle = (mode: Mode) => async (req: FastifyRequest, reply: FastifyReply) => {
    const started = performance.now();
    const endpoint = mode;
    let parsed;
    try {
      parsed = parseAdmissionReview(req.body);
    } catch (e) {
      metrics.decisions.inc({ endpoint, outcome: 'malformed' });
      throw e;
    }
    const { uid, input } = parsed;
    let decision;
    try {
      decision = await engine.evaluate(input, mode);
    } catch (e) {
      // The object itself is unusable (not a pod spec, too many images): deny, never 5xx.
      if (!isSigilError(e, 'INVALID_INPUT')) throw e;
      decision = {
        allowed: false,
        message: `resource ${input.kind}/${input.namespace}/${input.name} was refused: ${e.message}`,
        warnings: [],
        patch: [],
        results: [],
      };
    }
    const seconds = (performance.now() - started) / 1000;
    const outcome = decision.skippedBecause
      ? 'skipped'
      : !decision.allowed
        ? 'denied'
        : decision.warnings.length > 0
          ? 'warned'
          : 'allowed';
    metrics.decisions.inc({ endpoint, outcome });
    metrics.latency.observe({ endpoint }, seconds);
    decisionLog?.info(
      {
        event: 'admission.decision',
        endpoint,
        reqId: req.id,
        uid,
        kind: input.kind,
        namespace: input.namespace,
        name: input.name,
        operation: input.operation,
        allowed: decision.allowed,
        outcome,
        patches: decision.patch.length,
        ms: Math.round(seconds * 1e4) / 10,
        results: decision.results.map((r) => ({
          policy: r.policy,
          rule: r.rule,
          image: r.image,
          status: r.status,
          digest: r.digest,
          cached: r.cached,
          message: r.status === 'pass' ? undefined : r.message,
        })),
        ...(decision.skippedBecause ? { skipped: decision.skippedBecause } : {}),
      },
      'admission decision',
    );
    return reply.send(admissionResponse(uid, decision));
  };

  app.post('/validate', handle('validate'));
  app.post('/mutate', handle('mutate'));
  app.get('/readyz', async () => ({ status: 'ready', policies: config.policies.length }));
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  let url: string;
  try {
    url = await listen(app, config.port ?? DEFAULT_ADMISSION_PORT, config.host ?? '127.0.0.1');
  } catch (e) {
    await app.close().catch(() => undefined);
    throw new SigilError('UNAVAILABLE', `cannot listen: ${(e as Error).message}`, { cause: e });
  }
  return {
    url,
    app,
    engine,
    metrics,
    ...(generated ? { caBundle: generated.caBundle, caPem: generated.caPem } : {}),
    close: async () => {
      await app.close();
      try {
        destination?.flushSync();
      } catch {
        // nothing buffered, or stdout already gone
      }
    },
  };
}
