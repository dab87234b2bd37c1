import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadOrCreateP256Key } from '../crypto/index.js';
import { buildTufFiles, buildTufRoot, TUF_LIFETIMES_MS } from './repository.js';

export const TUF_KEY_FILE = 'tuf-root.key';
export const TUF_ROOT_FILE = 'tuf-root.json';

export interface ServedTufRepository {
  /** The root clients start from (also DIR/tuf-root.json): a policy's `tuf.root`. */
  rootJson: Buffer;
  rootPath: string;
  /** The repository's files now, by path under the mirror URL. */
  files(): ReadonlyMap<string, Buffer>;
  close(): void;
}

/**
 * A TUF repository holding `targets` (trusted_root.json, signing_config.v0.2.json), signed with
 * DIR/tuf-root.key (created 0600 on first start, with DIR/tuf-root.json as root version 1).
 * Targets, snapshot and timestamp are numbered by the Unix millisecond they were signed at, so
 * versions only grow across restarts, and are re-signed at half the timestamp's life.
 */
export function openServedTufRepository(dir: string, targets: Record<string, Buffer>): ServedTufRepository {
  const key = loadOrCreateP256Key(join(dir, TUF_KEY_FILE));
  const rootPath = join(dir, TUF_ROOT_FILE);
  if (!existsSync(rootPath)) writeFileSync(rootPath, buildTufRoot(key, new Date()), { flag: 'wx' });
  const rootJson = readFileSync(rootPath);
  let version = 0;
  let files = new Map<string, Buffer>();
  const resign = (): void => {
    const now = new Date();
    version = Math.max(now.getTime(), version + 1);
    files = buildTufFiles(key, rootJson, targets, version, now);
  };
  resign();
  const timer = setInterval(resign, TUF_LIFETIMES_MS.timestamp / 2);
  timer.unref();
  return { rootJson, rootPath, files: () => files, close: () => clearInterval(timer) };
}
