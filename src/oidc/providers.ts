import { readFileSync } from 'node:fs';
import { SigilError } from '../errors/index.js';
import { fetchJson } from '../http/index.js';
import { DEFAULT_AUDIENCE } from './config.js';
import { MAX_TOKEN_BYTES } from './verify.js';

export const NO_TOKEN_MESSAGE = 'getting credentials: no token was found';
export const NO_TOKEN_HINT =
  'pass --identity-token, set SIGSTORE_ID_TOKEN, or in GitHub Actions grant the job `permissions: id-token: write`';

/** Where an identity token may come from, parsed once at the CLI edge. */
export interface TokenSources {
  /** An explicit token (flag). */
  token?: string;
  /** A file holding the token. */
  tokenFile?: string;
  /** Environment to read SIGSTORE_ID_TOKEN and ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN from. */
  env: Readonly<Record<string, string | undefined>>;
  /** Audience asked of the Actions token-request endpoint (default `sigstore`). */
  audience?: string;
  timeoutMs?: number;
}

export interface IdentityProvider {
  getToken(): Promise<string>;
}

/**
 * The first token found: explicit flag, token file, SIGSTORE_ID_TOKEN, then the GitHub Actions
 * token-request endpoint. None → UNAUTHENTICATED with NO_TOKEN_MESSAGE (show NO_TOKEN_HINT).
 */
export async function getIdentityToken(src: TokenSources): Promise<string> {
  if (src.token) return checked(src.token);
  if (src.tokenFile) return checked(readTokenFile(src.tokenFile));
  const envToken = src.env.SIGSTORE_ID_TOKEN;
  if (envToken) return checked(envToken);
  const url = src.env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const requestToken = src.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (url && requestToken) return checked(await actionsToken(url, requestToken, src.audience, src.timeoutMs));
  throw new SigilError('UNAUTHENTICATED', NO_TOKEN_MESSAGE);
}

/** An `@sigstore/sign`-compatible identity provider over the same sources. */
export function identityProvider(src: TokenSources): IdentityProvider {
  return { getToken: () => getIdentityToken(src) };
}

/** GitHub Actions: GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=… with the request token → `{value}`. */
export async function actionsToken(
  requestUrl: string,
  requestToken: string,
  audience = DEFAULT_AUDIENCE,
  timeoutMs = 10_000,
): Promise<string> {
  let url: URL;
  try {
    url = new URL(requestUrl);
  } catch {
    throw new SigilError('INVALID_INPUT', 'ACTIONS_ID_TOKEN_REQUEST_URL is not a URL');
  }
  url.searchParams.set('audience', audience);
  const res = await fetchJson(url, {
    timeoutMs,
    maxBytes: MAX_TOKEN_BYTES * 2,
    what: 'the token-request endpoint',
    init: { headers: { authorization: `Bearer ${requestToken}`, accept: 'application/json' } },
  }).catch((e: unknown) => {
    throw new SigilError('UPSTREAM_ERROR', `getting credentials: ${(e as Error).message}`, { cause: e });
  });
  if (res.status < 200 || res.status > 299)
    throw new SigilError('UNAUTHENTICATED', `getting credentials: token request answered ${res.status}`);
  const value = (res.json as { value?: unknown } | undefined)?.value;
  if (typeof value !== 'string' || value === '') {
    throw new SigilError('UPSTREAM_ERROR', 'getting credentials: token-request answer has no value');
  }
  return value;
}

function readTokenFile(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (e) {
    throw new SigilError('INVALID_INPUT', `cannot read token file ${path}`, { cause: e });
  }
}

function checked(token: string): string {
  const t = token.trim();
  if (t.length > MAX_TOKEN_BYTES)
    throw new SigilError('TOO_LARGE', `identity token exceeds ${MAX_TOKEN_BYTES} bytes`);
  if (t.split('.').length !== 3) throw new SigilError('INVALID_TOKEN', 'identity token is not a JWT');
  return t;
}
