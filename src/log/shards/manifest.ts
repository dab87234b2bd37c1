import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { SigilError } from '../../errors/index.js';

/** `<dataDir>/shards.json`: which trees the data directory holds. Absent until the first rotation. */
export const MANIFEST_FILE = 'shards.json';
export const MANIFEST_VERSION = 1;
/** A data directory refuses to rotate beyond this many shards (each one is opened at start). */
export const MAX_SHARDS = 256;
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** One tree of the log: its SQLite directory and its tile directory, relative to the data directory. */
export interface ShardRecord {
  /** Decimal tree ID, as stored in the shard's database. */
  treeId: string;
  /** Directory holding the shard's log.db: `.` (the first tree) or `shards/<n>`. */
  dir: string;
  /** Tile directory: `tiles` (the first tree) or `tiles/<treeId>`. */
  tiles: string;
}

/** A shard frozen by a rotation, with the final tree head it was frozen at. */
export interface FrozenShard extends ShardRecord {
  size: number;
  /** Hex root hash of the final tree head. */
  rootHash: string;
  /** The final signed checkpoint, as the log signed it while the shard was active. */
  signedTreeHead: string;
}

export interface ShardManifest {
  version: typeof MANIFEST_VERSION;
  /** Frozen shards, oldest first; global log indexes run through them in this order. */
  inactive: FrozenShard[];
  active: ShardRecord;
}

/** The layout of a data directory that was never rotated (the tree ID is read from its store). */
export const SINGLE_TREE: Omit<ShardRecord, 'treeId'> = { dir: '.', tiles: 'tiles' };

const TREE_ID = /^[1-9][0-9]{0,18}$/;
const SHARD_DIR = /^(?:\.|shards\/[1-9][0-9]{0,3})$/;
const TILES_DIR = /^tiles(?:\/[1-9][0-9]{0,18})?$/;

function bad(path: string, why: string): never {
  throw new SigilError('STORAGE_FAILURE', `shard manifest ${path} is malformed: ${why}`);
}

function checkRecord(path: string, v: unknown, what: string): ShardRecord {
  const r = v as Partial<ShardRecord> | null;
  if (typeof r !== 'object' || r === null) bad(path, `${what} is not an object`);
  if (typeof r.treeId !== 'string' || !TREE_ID.test(r.treeId) || BigInt(r.treeId) > 0x7fff_ffff_ffff_ffffn)
    bad(path, `${what}.treeId`);
  if (typeof r.dir !== 'string' || !SHARD_DIR.test(r.dir)) bad(path, `${what}.dir`);
  if (typeof r.tiles !== 'string' || !TILES_DIR.test(r.tiles)) bad(path, `${what}.tiles`);
  return { treeId: r.treeId, dir: r.dir, tiles: r.tiles };
}

function checkFrozen(path: string, v: unknown, what: string): FrozenShard {
  const base = checkRecord(path, v, what);
  const r = v as Partial<FrozenShard>;
  if (!Number.isSafeInteger(r.size) || r.size! < 1) bad(path, `${what}.size`);
  if (typeof r.rootHash !== 'string' || !/^[0-9a-f]{64}$/.test(r.rootHash)) bad(path, `${what}.rootHash`);
  if (typeof r.signedTreeHead !== 'string' || r.signedTreeHead.length === 0)
    bad(path, `${what}.signedTreeHead`);
  return { ...base, size: r.size!, rootHash: r.rootHash, signedTreeHead: r.signedTreeHead };
}

/** The manifest of `dataDir`, or undefined when the directory was never rotated. */
export function readManifest(dataDir: string): ShardManifest | undefined {
  const path = join(dataDir, MANIFEST_FILE);
  if (!existsSync(path)) return undefined;
  const text = readFileSync(path, 'utf8');
  if (text.length > MAX_MANIFEST_BYTES) bad(path, 'too large');
  let m: Partial<ShardManifest>;
  try {
    m = JSON.parse(text) as Partial<ShardManifest>;
  } catch {
    return bad(path, 'not JSON');
  }
  if (m.version !== MANIFEST_VERSION)
    bad(path, `version ${String(m.version)} (expected ${MANIFEST_VERSION})`);
  if (!Array.isArray(m.inactive) || m.inactive.length === 0 || m.inactive.length >= MAX_SHARDS)
    bad(path, 'inactive');
  const inactive = m.inactive.map((s, i) => checkFrozen(path, s, `inactive[${i}]`));
  const active = checkRecord(path, m.active, 'active');
  const all = [...inactive, active];
  for (const key of ['treeId', 'dir', 'tiles'] as const) {
    if (new Set(all.map((s) => s[key])).size !== all.length) bad(path, `two shards share a ${key}`);
  }
  let total = 0;
  for (const s of inactive) total += s.size;
  if (!Number.isSafeInteger(total)) bad(path, 'shard sizes overflow');
  return { version: MANIFEST_VERSION, inactive, active };
}

/** fsync of a file or directory (a directory's fsync makes the names created or renamed in it durable). */
export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Replaces the manifest atomically and durably: the new text goes to a temporary file that is
 * fsynced, renamed over the manifest, and the directory is fsynced so the rename survives a
 * power loss. A crash at any point leaves either the old manifest or the new one.
 */
export function writeManifest(dataDir: string, manifest: ShardManifest): void {
  const path = join(dataDir, MANIFEST_FILE);
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(manifest, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  fsyncPath(dataDir);
}
