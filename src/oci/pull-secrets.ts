import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SigilError } from '../errors/index.js';
import { normalizeRegistryKey, parseDockerConfig, type CredentialStore, type Credentials } from './auth.js';

const MAX_SECRET_FILE_BYTES = 1024 * 1024;
const MAX_SECRETS = 256;
/** The keys of `kubernetes.io/dockerconfigjson` and `kubernetes.io/dockercfg` secrets, and a plain docker config. */
const FILES = ['.dockerconfigjson', '.dockercfg', 'config.json'];

export interface MountedCredentials {
  /** Secret name (its directory) → registry → credentials. */
  secrets: Map<string, Map<string, Credentials>>;
  /** Every secret, in name order; the first that knows a registry wins. */
  store: CredentialStore;
  /** Only the named secrets (a pod's imagePullSecrets), in the order given. */
  storeFor(names: readonly string[]): CredentialStore;
}

function readSecretFile(path: string): Map<string, Credentials> | undefined {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return undefined;
  }
  if (size > MAX_SECRET_FILE_BYTES)
    throw new SigilError('TOO_LARGE', `pull secret ${path} is larger than 1 MiB`);
  const text = readFileSync(path, 'utf8');
  try {
    if (path.endsWith('.dockercfg'))
      return parseDockerConfig(JSON.stringify({ auths: JSON.parse(text) as unknown }));
    return parseDockerConfig(text);
  } catch (e) {
    throw new SigilError('INVALID_INPUT', `pull secret ${path}: ${(e as Error).message}`);
  }
}

function lookup(maps: Map<string, Credentials>[]): CredentialStore {
  return (registry) => {
    const key = normalizeRegistryKey(registry);
    for (const m of maps) {
      const c = m.get(key);
      if (c) return c;
    }
    return undefined;
  };
}

/**
 * Registry credentials from pull secrets mounted under `dir` (`--registry-credentials`): each
 * secret volume is a subdirectory named after the secret holding `.dockerconfigjson` (or
 * `.dockercfg`); a docker config file directly in `dir` counts as the secret `default`.
 * Kubernetes' `..data` bookkeeping entries are skipped. Read once at start-up.
 */
export function loadMountedCredentials(dir: string): MountedCredentials {
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((n) => !n.startsWith('..'))
      .sort();
  } catch (e) {
    throw new SigilError(
      'INVALID_INPUT',
      `cannot read --registry-credentials ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  const secrets = new Map<string, Map<string, Credentials>>();
  for (const f of FILES) {
    if (!names.includes(f)) continue;
    const m = readSecretFile(join(dir, f));
    if (m && !secrets.has('default')) secrets.set('default', m);
  }
  for (const name of names) {
    if (FILES.includes(name)) continue;
    let isDir = false;
    try {
      isDir = statSync(join(dir, name)).isDirectory();
    } catch {
      isDir = false;
    }
    if (!isDir) continue;
    if (secrets.size >= MAX_SECRETS)
      throw new SigilError('TOO_LARGE', `more than ${MAX_SECRETS} pull secrets in ${dir}`);
    for (const f of FILES) {
      const m = readSecretFile(join(dir, name, f));
      if (m) {
        secrets.set(name, m);
        break;
      }
    }
  }
  return {
    secrets,
    store: lookup([...secrets.values()]),
    storeFor: (wanted) =>
      lookup(wanted.map((n) => secrets.get(n)).filter((m): m is Map<string, Credentials> => m !== undefined)),
  };
}
