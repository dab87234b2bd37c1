import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { SigilError } from '../errors/index.js';
import { DOCKER_HUB, DOCKER_HUB_API_HOST, DOCKER_HUB_INDEX } from './reference.js';

export interface Credentials {
  username: string;
  password: string;
}

/** Looks up credentials by registry name (`docker.io`, `ghcr.io`, `localhost:5000`). */
export type CredentialStore = (registry: string) => Credentials | undefined;

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses one `WWW-Authenticate` header value: `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`. */
export function parseChallenge(header: string): Challenge | undefined {
  const m = /^\s*([A-Za-z][A-Za-z0-9_-]*)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  const params: Record<string, string> = {};
  const re = /\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?/gy;
  const rest = m[2]!;
  let pm: RegExpExecArray | null;
  while (rest.length > re.lastIndex && (pm = re.exec(rest)) !== null) {
    params[pm[1]!.toLowerCase()] = pm[2] !== undefined ? pm[2].replace(/\\(.)/g, '$1') : (pm[3] ?? '');
  }
  return { scheme, params };
}

/** Maps the many spellings of a registry in docker config keys to a registry name. */
export function normalizeRegistryKey(key: string): string {
  let k = key
    .trim()
    .toLowerCase()
    .replace(/^[a-z]+:\/\//, '');
  k = k.replace(/\/.*$/, '');
  if (k === DOCKER_HUB_INDEX || k === DOCKER_HUB_API_HOST || k === 'registry.hub.docker.com')
    return DOCKER_HUB;
  return k;
}

/** Reads `auths` (base64 `auth` = user:password, or username/password) from a docker config.json text. */
export function parseDockerConfig(text: string): Map<string, Credentials> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new SigilError('INVALID_INPUT', `docker config is not valid JSON: ${(e as Error).message}`);
  }
  const out = new Map<string, Credentials>();
  const auths = (doc as { auths?: unknown })?.auths;
  if (typeof auths !== 'object' || auths === null) return out;
  for (const [key, entry] of Object.entries(auths as Record<string, unknown>)) {
    if (typeof entry !== 'object' || entry === null) continue;
    const e = entry as Record<string, unknown>;
    let creds: Credentials | undefined;
    if (typeof e.auth === 'string' && e.auth.length > 0) {
      const decoded = Buffer.from(e.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon <= 0)
        throw new SigilError(
          'INVALID_INPUT',
          `docker config: the auth entry for ${key} is not base64 of user:password`,
        );
      creds = { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    } else if (typeof e.username === 'string' && typeof e.password === 'string') {
      creds = { username: e.username, password: e.password };
    }
    if (creds) out.set(normalizeRegistryKey(key), creds);
  }
  return out;
}

/** Path of the docker config: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
export function dockerConfigPath(
  env: Readonly<Record<string, string | undefined>>,
  home: string = homedir(),
): string {
  return join(env.DOCKER_CONFIG || join(home, '.docker'), 'config.json');
}

/**
 * Credentials from the docker config file (missing file = none). Credential helpers
 * (`credsStore`, `credHelpers`) are not run. Call this once at the edge (CLI, server config).
 */
export function loadDockerCredentials(path: string): CredentialStore {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return () => undefined;
    throw new SigilError('INVALID_INPUT', `cannot read docker config ${path}: ${(e as Error).message}`);
  }
  const map = parseDockerConfig(text);
  return (registry) => map.get(normalizeRegistryKey(registry));
}

/** Explicit credentials (e.g. --registry-username/--registry-password) for every registry, or per registry. */
export function staticCredentials(creds: Credentials, registry?: string): CredentialStore {
  return (r) =>
    registry === undefined || normalizeRegistryKey(r) === normalizeRegistryKey(registry) ? creds : undefined;
}

/** First store that knows the registry wins. */
export function chainCredentials(...stores: (CredentialStore | undefined)[]): CredentialStore {
  return (r) => {
    for (const s of stores) {
      const c = s?.(r);
      if (c) return c;
    }
    return undefined;
  };
}

export function basicAuthorization(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`;
}
