import { decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import { SigilError, isSigilError } from '../errors/index.js';
import type { IssuerConfig } from './config.js';
import { createIssuerMatcher } from './issuer-match.js';
import { ASYMMETRIC_ALGS, createIssuerKeys, type IssuerKeys } from './jwks.js';
import { principalFromClaims, type Principal } from './principal.js';

export const MAX_TOKEN_BYTES = 32 * 1024;
export const DEFAULT_CLOCK_SKEW_SECONDS = 30;
export const DEFAULT_JWKS_REFRESH_INTERVAL_MS = 30_000;
export const DEFAULT_JWKS_MAX_AGE_MS = 10 * 60_000;
export const DEFAULT_FETCH_TIMEOUT_MS = 5_000;
/** Distinct concrete issuers (from wildcard patterns) whose keys are kept. */
const MAX_CACHED_ISSUERS = 1024;

export interface TokenVerifierOptions {
  issuers: readonly IssuerConfig[];
  clockSkewSeconds?: number;
  maxTokenBytes?: number;
  jwksRefreshIntervalMs?: number;
  jwksMaxAgeMs?: number;
  fetchTimeoutMs?: number;
  /** Unix milliseconds (tests). */
  now?: () => number;
}

export interface TokenVerifier {
  /** Verifies signature, issuer, audience and times, then maps claims to a principal. */
  verify(token: string): Promise<Principal>;
}

export function createTokenVerifier(opts: TokenVerifierOptions): TokenVerifier {
  const matcher = createIssuerMatcher(opts.issuers);
  const skew = opts.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS;
  const maxBytes = opts.maxTokenBytes ?? MAX_TOKEN_BYTES;
  const now = opts.now ?? Date.now;
  const providers = new Map<string, () => Promise<IssuerKeys>>();
  const providerFor = (iss: string): (() => Promise<IssuerKeys>) => {
    let p = providers.get(iss);
    if (!p) {
      if (providers.size >= MAX_CACHED_ISSUERS) providers.delete(providers.keys().next().value as string);
      p = createIssuerKeys(iss, {
        timeoutMs: opts.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS,
        refreshIntervalMs: opts.jwksRefreshIntervalMs ?? DEFAULT_JWKS_REFRESH_INTERVAL_MS,
        maxAgeMs: opts.jwksMaxAgeMs ?? DEFAULT_JWKS_MAX_AGE_MS,
        now,
      });
      providers.set(iss, p);
    }
    return p;
  };

  return {
    async verify(token) {
      if (typeof token !== 'string' || token.length === 0)
        throw new SigilError('UNAUTHENTICATED', 'no identity token');
      if (token.length > maxBytes)
        throw new SigilError('TOO_LARGE', `identity token exceeds ${maxBytes} bytes`);
      const { iss, alg } = peek(token);
      if (!(ASYMMETRIC_ALGS as readonly string[]).includes(alg)) {
        throw new SigilError('INVALID_TOKEN', `token algorithm ${alg} is not allowed`);
      }
      const issuer = matcher.match(iss);
      if (!issuer) throw new SigilError('UNKNOWN_ISSUER', `issuer ${iss.slice(0, 200)} is not configured`);
      const keys = await providerFor(iss)();
      if (!keys.algorithms.includes(alg)) {
        throw new SigilError('INVALID_TOKEN', `token algorithm ${alg} is not advertised by the issuer`);
      }
      let payload: Record<string, unknown>;
      try {
        const res = await jwtVerify(token, keys.getKey, {
          issuer: iss,
          audience: issuer.audience,
          algorithms: keys.algorithms,
          clockTolerance: skew,
          requiredClaims: ['exp', 'sub'],
          currentDate: new Date(now()),
        });
        payload = res.payload as Record<string, unknown>;
      } catch (e) {
        if (isSigilError(e)) throw e;
        throw new SigilError('INVALID_TOKEN', tokenErrorMessage(e), { cause: e });
      }
      if (typeof payload.iat === 'number' && payload.iat > now() / 1000 + skew) {
        throw new SigilError('INVALID_TOKEN', 'token iat is in the future');
      }
      return principalFromClaims(payload, issuer);
    },
  };
}

/** Reads `iss` and `alg` without trusting anything; exactly three segments required. */
function peek(token: string): { iss: string; alg: string } {
  const parts = token.split('.');
  if (parts.length !== 3) throw new SigilError('INVALID_TOKEN', 'token is not a signed JWT (three segments)');
  let iss: unknown;
  let alg: unknown;
  try {
    iss = decodeJwt(token).iss;
    alg = decodeProtectedHeader(token).alg;
  } catch (e) {
    throw new SigilError('INVALID_TOKEN', 'token does not decode', { cause: e });
  }
  if (typeof iss !== 'string' || iss === '') throw new SigilError('INVALID_TOKEN', 'token has no iss claim');
  if (typeof alg !== 'string') throw new SigilError('INVALID_TOKEN', 'token has no alg');
  return { iss, alg };
}

function tokenErrorMessage(e: unknown): string {
  if (e instanceof joseErrors.JWTExpired) return 'token has expired';
  if (e instanceof joseErrors.JWTClaimValidationFailed)
    return `token claim check failed: ${e.claim} (${e.reason})`;
  if (e instanceof joseErrors.JWKSNoMatchingKey) return 'token key id is not in the issuer key set';
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return 'token signature does not verify';
  if (e instanceof joseErrors.JOSEAlgNotAllowed) return 'token algorithm is not allowed';
  if (e instanceof joseErrors.JOSEError) return `token is invalid (${e.code})`;
  return 'token is invalid';
}
