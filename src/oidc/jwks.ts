import { createLocalJWKSet, errors as joseErrors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { SigilError } from '../errors/index.js';
import { fetchJson } from '../http/index.js';

/** Asymmetric JWS algorithms only: never `none`, never HMAC. */
export const ASYMMETRIC_ALGS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;

export const MAX_DOCUMENT_BYTES = 256 * 1024;

export interface IssuerKeys {
  /** JWS algorithms the issuer advertises, restricted to ASYMMETRIC_ALGS. */
  algorithms: string[];
  getKey: JWTVerifyGetKey;
}

export interface ProviderOptions {
  timeoutMs: number;
  /** Minimum time between two JWKS fetches for one issuer (refresh on an unknown kid is rate-limited). */
  refreshIntervalMs: number;
  /** How long discovery and keys are reused before being fetched again. */
  maxAgeMs: number;
  now: () => number;
}

/**
 * OIDC discovery plus a JWKS cache for one concrete issuer URL. The discovery document's
 * `issuer` must equal the URL exactly. Keys are refreshed when they are older than maxAgeMs,
 * or when a token names an unknown `kid` and the last fetch is older than refreshIntervalMs.
 */
export function createIssuerKeys(issuerUrl: string, opts: ProviderOptions): () => Promise<IssuerKeys> {
  let jwksUri: URL | undefined;
  let algorithms: string[] = [];
  let local: JWTVerifyGetKey | undefined;
  let fetchedAt = -Infinity;
  let inFlight: Promise<void> | undefined;

  const refresh = async (): Promise<void> => {
    if (!jwksUri || opts.now() - fetchedAt > opts.maxAgeMs) {
      const base = issuerUrl.endsWith('/') ? issuerUrl.slice(0, -1) : issuerUrl;
      const doc = await fetchObject(`${base}/.well-known/openid-configuration`, opts.timeoutMs);
      if (doc.issuer !== issuerUrl) {
        throw new SigilError(
          'INVALID_TOKEN',
          'issuer in the discovery document does not match the token issuer',
        );
      }
      if (typeof doc.jwks_uri !== 'string')
        throw new SigilError('UPSTREAM_ERROR', 'discovery document has no jwks_uri');
      jwksUri = new URL(doc.jwks_uri);
      const advertised = Array.isArray(doc.id_token_signing_alg_values_supported)
        ? doc.id_token_signing_alg_values_supported.filter((a): a is string => typeof a === 'string')
        : ['RS256'];
      algorithms = advertised.filter((a) => (ASYMMETRIC_ALGS as readonly string[]).includes(a));
    }
    const jwks = await fetchObject(jwksUri.href, opts.timeoutMs);
    if (!Array.isArray(jwks.keys)) throw new SigilError('UPSTREAM_ERROR', 'JWKS has no keys array');
    const keys = (jwks.keys as unknown[]).filter(
      (k): k is Record<string, unknown> =>
        typeof k === 'object' && k !== null && (k as { kty?: unknown }).kty !== 'oct',
    );
    local = createLocalJWKSet({ keys } as JSONWebKeySet);
    fetchedAt = opts.now();
  };

  const ensure = async (force: boolean): Promise<void> => {
    const stale = opts.now() - fetchedAt > opts.maxAgeMs;
    const allowed = opts.now() - fetchedAt >= opts.refreshIntervalMs;
    if (!local || stale || (force && allowed)) {
      inFlight ??= refresh().finally(() => {
        inFlight = undefined;
      });
      await inFlight;
    }
  };

  const getKey: JWTVerifyGetKey = async (header, token) => {
    await ensure(false);
    try {
      return await (local as JWTVerifyGetKey)(header, token);
    } catch (e) {
      if (!(e instanceof joseErrors.JWKSNoMatchingKey)) throw e;
      await ensure(true);
      return (local as JWTVerifyGetKey)(header, token);
    }
  };

  return async () => {
    await ensure(false);
    return { algorithms, getKey };
  };
}

async function fetchObject(url: string, timeoutMs: number): Promise<Record<string, unknown>> {
  const res = await fetchJson(url, { timeoutMs, maxBytes: MAX_DOCUMENT_BYTES });
  if (res.status < 200 || res.status > 299)
    throw new SigilError('UPSTREAM_ERROR', `${url} answered ${res.status}`);
  const v = res.json;
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new SigilError('UPSTREAM_ERROR', `${url} did not answer a JSON object`);
  return v as Record<string, unknown>;
}
