import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEFAULT_LOG_URL } from '../rekor/client.js';

export { DEFAULT_LOG_URL };

export const DEFAULT_DATA_DIR = '.sigil';
export const STACK_ENV_FILE = 'stack.env';
export const TRUSTED_ROOT_FILE = 'trusted_root.json';
export const SIGNING_CONFIG_FILE = 'signing_config.json';
export const DEFAULT_CA_URL = 'http://127.0.0.1:5555';
const MAX_STACK_ENV_BYTES = 64 * 1024;

/** Where the services of the dev stack are, as `sigil up` wrote them (or the defaults). */
export interface StackDefaults {
  dataDir: string;
  caUrl: string;
  logUrl: string;
  oidcUrl?: string;
  /** Path of trusted_root.json when one is known to exist. */
  trustedRoot?: string;
}

/** `KEY=value` lines (optionally `export KEY="value"`), comments and blanks ignored. */
export function parseStackEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim().replace(/^export\s+/, '');
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2]!.trim();
    if (v.length >= 2 && (v[0] === '"' || v[0] === "'") && v[v.length - 1] === v[0]) v = v.slice(1, -1);
    out[m[1]!] = v;
  }
  return out;
}

/**
 * Defaults for service URLs and the trusted root: env (SIGIL_CA_URL, SIGIL_LOG_URL,
 * SIGIL_TRUSTED_ROOT, SIGIL_OIDC_URL), then DIR/stack.env (DIR = SIGIL_DATA_DIR or ./.sigil),
 * then DIR/trusted_root.json, then the default ports. Flags override all of these.
 */
export function stackDefaults(
  env: Readonly<Record<string, string | undefined>>,
  dataDir?: string,
): StackDefaults {
  const dir = resolve(dataDir ?? env.SIGIL_DATA_DIR ?? DEFAULT_DATA_DIR);
  let file: Record<string, string> = {};
  const path = join(dir, STACK_ENV_FILE);
  if (existsSync(path)) {
    const text = readFileSync(path, 'utf8');
    if (text.length <= MAX_STACK_ENV_BYTES) file = parseStackEnv(text);
  }
  const pick = (k: string): string | undefined => env[k] || file[k] || undefined;
  const rootPath =
    pick('SIGIL_TRUSTED_ROOT') ??
    (existsSync(join(dir, TRUSTED_ROOT_FILE)) ? join(dir, TRUSTED_ROOT_FILE) : undefined);
  const out: StackDefaults = {
    dataDir: dir,
    caUrl: pick('SIGIL_CA_URL') ?? DEFAULT_CA_URL,
    logUrl: pick('SIGIL_LOG_URL') ?? DEFAULT_LOG_URL,
  };
  const oidc = pick('SIGIL_OIDC_URL');
  if (oidc) out.oidcUrl = oidc;
  if (rootPath) out.trustedRoot = rootPath;
  return out;
}
