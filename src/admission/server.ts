import type { FastifyInstance } from 'fastify';
import { SigilError } from '../errors/index.js';
import { createApp, listen } from '../server/index.js';
import {
  createTagDigestCache,
  VerificationCache,
  DEFAULT_CACHE_MAX_ENTRIES,
  DEFAULT_CACHE_TTL_MS,
} from './cache.js';
import { DecisionLog, type LineSink } from './decision-log.js';
import {
  AdmissionEngine,
  DEFAULT_EXCLUDED_NAMESPACES,
  DEFAULT_TIMEOUT_MS,
  type RuleVerdict,
} from './engine.js';
import { AdmissionMetrics } from './metrics.js';
import type { FailurePolicy, ImagePolicy } from './policy/types.js';
import { createReviewHandler, reviewMode } from './review-http.js';
import { generateServingTls, serviceDnsNames } from './tls.js';
import type { ImageSource, SignatureVerifier } from './verifier.js';
import { ivpVerificationFor } from './ivp/verifier.js';

/** ImageValidatingPolicies verify through the same source, verifier and cache as ClusterPolicies. */
function ivpSeams(source: ImageSource, verifier: SignatureVerifier, cache: VerificationCache<unknown>) {
  const verification = ivpVerificationFor(source, verifier, cache);
  return verification ? { ivp: { verification } } : {};
}

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
  /** Where the decision lines go (default stdout, written synchronously). */
  decisionSink?: LineSink;
  /**
   * What GET /metrics answers (default: this server's own registry). A cluster worker answers
   * with the metrics of every worker, aggregated by the primary (cluster.ts).
   */
  metricsText?: () => Promise<string>;
}

export interface AdmissionServer {
  url: string;
  /** /healthz, /readyz, /metrics (and the 404s); /validate and /mutate are answered before it. */
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
 *
 * The two review routes are served on the plain node:https request (review-http.ts, through
 * createApp's fastRoute), the hot path of the webhook; the rest goes through Fastify's router
 * with the shared error mapping.
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
    ...ivpSeams(config.source, config.verifier, cache as VerificationCache<unknown>),
  });
  const metrics = new AdmissionMetrics(cache as VerificationCache<unknown>);
  const level = config.logLevel ?? 'info';
  const log = DecisionLog.create(level, config.decisionSink);
  const review = createReviewHandler({
    engine,
    metrics,
    log,
    bodyLimit: config.bodyLimit ?? DEFAULT_ADMISSION_BODY_LIMIT,
  });

  // The reviews are answered on the plain HTTPS request, before Fastify's pipeline.
  const app = createApp({
    logLevel: level,
    https: tls,
    fastRoute: (req, res) => {
      const mode = reviewMode(req.method, req.url);
      if (!mode) return false;
      review(req, res, mode);
      return true;
    },
  });
  app.get('/readyz', async () => ({ status: 'ready', policies: config.policies.length }));
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return config.metricsText ? config.metricsText() : metrics.registry.metrics();
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
      log?.flush();
    },
  };
}
