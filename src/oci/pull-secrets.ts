import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SigilError } from '../errors/index.js';
import { normalizeRegistryKey, parseDockerConfig, type CredentialStore, type Credentials } from './auth.js';

const MAX_SECRET_FILE_BYTES = 1024 * 1024;
const MAX_SECRETS = 256;
/** The keys of `kubernetes.io/dockerconfigjson` and `kubernetes.io/dockercfg` secrets, and a plain docker config. */
const FILES = ['.dockerconfigjson', '.dockercfg', 'config.json'];

/** A Kubernetes secret reference; no namespace = the webhook's own (Kyverno's "Kyverno namespace"). */
export interface SecretRef {
  namespace?: string;
  name: string;
}

/** The credentials a list of secret references gives, and which of them are mounted. */
export interface ResolvedSecrets {
  store: CredentialStore;
  /** The mounted secrets used, in order (`name` for the webhook's own, `namespace/name`): a stable key. */
  mounted: string[];
  /** References with no mounted secret (skipped, as Kyverno skips a secret it cannot find). */
  missing: string[];
}

export interface MountedCredentials {
  /** Secret (`name` in the webhook's namespace, or `namespace/name`) → registry → credentials. */
  secrets: Map<string, Map<string, Credentials>>;
  /**
   * The default credentials: only a docker config directly in the directory. Named secrets
   * are used only where a pod or policy names them.
   */
  store: CredentialStore;
  /** Only the named secrets (bare names: the webhook's namespace), in the order given. */
  storeFor(names: readonly string[]): CredentialStore;
  /** Only the referenced secrets, in the order given; the first that knows a registry wins. */
  resolve(refs: readonly SecretRef[]): ResolvedSecrets;
}

const MAX_NAME = 253;
const NAME_RE = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;

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

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function listDir(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => !n.startsWith('..'))
    .sort();
}

/** The secret's docker config in `path` (a secret volume), or undefined when it holds none. */
function readSecretDir(path: string): Map<string, Credentials> | undefined {
  for (const f of FILES) {
    const m = readSecretFile(join(path, f));
    if (m) return m;
  }
  return undefined;
}

/**
 * Registry credentials from pull secrets mounted under `dir` (`--registry-credentials`): each
 * secret volume is a subdirectory named after the secret holding `.dockerconfigjson` (or
 * `.dockercfg`) — `dir/<name>` for a secret of the webhook's own namespace (`ownNamespace`),
 * `dir/<namespace>/<name>` for one of another namespace (a pod's imagePullSecrets live in the
 * pod's namespace). A docker config file directly in `dir` is the default, the only
 * credentials used when nothing names a secret. Kubernetes' `..data` entries are skipped.
 * Read once at start-up.
 */
export function loadMountedCredentials(dir: string, ownNamespace?: string): MountedCredentials {
  let names: string[];
  try {
    names = listDir(dir);
  } catch (e) {
    throw new SigilError(
      'INVALID_INPUT',
      `cannot read --registry-credentials ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  const secrets = new Map<string, Map<string, Credentials>>();
  let root: Map<string, Credentials> | undefined;
  for (const f of FILES) if (names.includes(f)) root ??= readSecretFile(join(dir, f));
  const add = (key: string, m: Map<string, Credentials>): void => {
    if (secrets.size >= MAX_SECRETS)
      throw new SigilError('TOO_LARGE', `more than ${MAX_SECRETS} pull secrets in ${dir}`);
    secrets.set(key, m);
  };
  for (const name of names) {
    if (FILES.includes(name) || !isDirectory(join(dir, name))) continue;
    const own = readSecretDir(join(dir, name));
    if (own) {
      add(name, own);
      continue;
    }
    // No docker config here: a namespace directory, one secret volume per subdirectory.
    for (const inner of listDir(join(dir, name))) {
      if (!isDirectory(join(dir, name, inner))) continue;
      const m = readSecretDir(join(dir, name, inner));
      if (m) add(name === ownNamespace ? inner : `${name}/${inner}`, m);
    }
  }
  const keyOf = (r: SecretRef): string | undefined => {
    const ns = r.namespace === ownNamespace ? undefined : r.namespace;
    if (r.name.length > MAX_NAME || !NAME_RE.test(r.name)) return undefined;
    if (ns !== undefined && (ns.length > MAX_NAME || !NAME_RE.test(ns))) return undefined;
    return ns === undefined ? r.name : `${ns}/${r.name}`;
  };
  const shown = (r: SecretRef): string => (r.namespace ? `${r.namespace}/${r.name}` : r.name);
  return {
    secrets,
    store: lookup(root ? [root] : []),
    storeFor: (wanted) =>
      lookup(wanted.map((n) => secrets.get(n)).filter((m): m is Map<string, Credentials> => m !== undefined)),
    resolve: (refs) => {
      const mounted: string[] = [];
      const missing: string[] = [];
      for (const r of refs) {
        const key = keyOf(r);
        if (key !== undefined && secrets.has(key)) {
          if (!mounted.includes(key)) mounted.push(key);
        } else missing.push(shown(r));
      }
      return { store: lookup(mounted.map((k) => secrets.get(k)!)), mounted, missing };
    },
  };
}
