import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { loadOrCreateP256Key } from '../crypto/index.js';
import { SigilError } from '../errors/index.js';
import { buildTufFiles, buildTufRoot, TUF_LIFETIMES_MS, tufKey } from './repository.js';

export const TUF_KEY_FILE = 'tuf-root.key';
export const TUF_ROOT_FILE = 'tuf-root.json';
/** The version the targets, snapshot and timestamp were last signed with. */
export const TUF_VERSION_FILE = 'tuf-version';

function lastVersion(file: string): number {
  if (!existsSync(file)) return 0;
  const text = readFileSync(file, 'utf8').trim();
  const v = Number(text);
  if (!/^\d{1,9}$/.test(text) || !Number.isSafeInteger(v))
    throw new SigilError('STORAGE_FAILURE', `${file} does not hold a TUF version number`);
  return v;
}

const rootVersion = (root: Buffer): number =>
  (JSON.parse(root.toString('utf8')) as { signed: { version: number } }).signed.version;

const ROOT_VERSION_RE = /^tuf-root\.([1-9]\d{0,8})\.json$/;

/**
 * The roots after version 1 (DIR/tuf-root.N.json), renewed with the same key when the newest
 * has less than half its life left: a client starting from DIR/tuf-root.json walks
 * 2.root.json, 3.root.json, … to the newest, so the root a policy holds never has to change.
 */
function renewedRoots(dir: string, key: KeyObject, first: Buffer, now: Date): Buffer[] {
  const versions = readdirSync(dir)
    .map((f) => ROOT_VERSION_RE.exec(f)?.[1])
    .filter((v): v is string => v !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  const roots = [first, ...versions.map((v) => readFileSync(join(dir, `tuf-root.${v}.json`)))];
  const newest = roots[roots.length - 1]!;
  const expires = (JSON.parse(newest.toString('utf8')) as { signed: { expires: string } }).signed.expires;
  if (Date.parse(expires) - now.getTime() < TUF_LIFETIMES_MS.root / 2) {
    const next = rootVersion(newest) + 1;
    const root = buildTufRoot(key, now, next);
    writeFileSync(join(dir, `tuf-root.${next}.json`), root, { flag: 'wx' });
    roots.push(root);
  }
  return roots;
}

export interface ServedTufRepository {
  /** The root clients start from (also DIR/tuf-root.json): a policy's `tuf.root`. */
  rootJson: Buffer;
  rootPath: string;
  /** The repository's files now, by path under the mirror URL. */
  files(): ReadonlyMap<string, Buffer>;
  close(): void;
}

/**
 * DIR/tuf-root.json must give every top-level role to DIR/tuf-root.key: a key made anew beside an
 * old root would sign metadata every client refuses, each with a threshold error naming no file.
 */
function refuseForeignRoot(rootJson: Buffer, keyID: string, rootPath: string): void {
  let roles: Record<string, { keyids?: unknown }> | undefined;
  try {
    roles = (JSON.parse(rootJson.toString('utf8')) as { signed?: { roles?: typeof roles } }).signed?.roles;
  } catch {
    roles = undefined;
  }
  for (const role of ['root', 'targets', 'snapshot', 'timestamp']) {
    const ids = roles?.[role]?.keyids;
    if (!Array.isArray(ids) || !ids.includes(keyID))
      throw new SigilError(
        'STORAGE_FAILURE',
        `${rootPath} does not give the ${role} role to ${TUF_KEY_FILE} (restore the key, or remove the root to start a new repository)`,
      );
  }
}

/**
 * A TUF repository holding `targets` (trusted_root.json, signing_config.v0.2.json), signed with
 * DIR/tuf-root.key (created 0600 on first start, with DIR/tuf-root.json as root version 1).
 * Targets, snapshot and timestamp are numbered 1, 2, … (the last number kept in DIR/tuf-version,
 * so versions only grow across restarts, and stay within the 32-bit integers sigstore-java's
 * and rust-tuf's clients read them as), and are re-signed at half the timestamp's life; the
 * root is renewed at half its life (renewedRoots).
 */
export function openServedTufRepository(dir: string, targets: Record<string, Buffer>): ServedTufRepository {
  const key = loadOrCreateP256Key(join(dir, TUF_KEY_FILE));
  const rootPath = join(dir, TUF_ROOT_FILE);
  if (!existsSync(rootPath)) writeFileSync(rootPath, buildTufRoot(key, new Date()), { flag: 'wx' });
  const rootJson = readFileSync(rootPath);
  refuseForeignRoot(rootJson, tufKey(key).keyID, rootPath);
  const versionPath = join(dir, TUF_VERSION_FILE);
  let version = lastVersion(versionPath);
  let files = new Map<string, Buffer>();
  const resign = (): void => {
    const now = new Date();
    const roots = renewedRoots(dir, key, rootJson, now);
    version += 1;
    writeFileSync(versionPath, `${version}\n`);
    files = buildTufFiles(key, roots[roots.length - 1]!, targets, version, now);
    for (const r of roots.slice(0, -1)) files.set(`${rootVersion(r)}.root.json`, r);
  };
  resign();
  const timer = setInterval(resign, TUF_LIFETIMES_MS.timestamp / 2);
  timer.unref();
  return { rootJson, rootPath, files: () => files, close: () => clearInterval(timer) };
}
