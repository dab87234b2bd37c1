import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SigilError } from '../../errors/index.js';
import { createLog, type Log } from '../core.js';
import { openSqliteStore, SQLITE_FILE_NAME, type SqliteStoreOptions } from '../store/sqlite/sqlite.js';
import type { LogStore } from '../store/types.js';
import type { TreeHeadSigner } from '../types.js';
import {
  readManifest,
  SINGLE_TREE,
  type FrozenShard,
  type ShardManifest,
  type ShardRecord,
} from './manifest.js';

/** The signer of a frozen shard's log: it never signs, since nothing is appended to it. */
export const frozenSigner: TreeHeadSigner = () => {
  throw new SigilError('STORAGE_FAILURE', 'this shard is frozen: it takes no new entries');
};

export interface ActiveShardStore {
  /** Directory and tile directory (treeId filled from the store). */
  record: ShardRecord;
  store: LogStore;
  /** Global index of the shard's entry 0 (the sizes of all frozen shards). */
  offset: number;
}

export interface FrozenShardLog {
  record: FrozenShard;
  /** Read-only: the store still takes its lock, so nothing else appends to the shard. */
  log: Log;
  offset: number;
}

export interface OpenedShards {
  active: ActiveShardStore;
  /** Oldest first. */
  inactive: FrozenShardLog[];
  /** Closes the frozen shards (the active store is closed by whoever owns it). */
  closeInactive(): Promise<void>;
}

type StoreOptions = Pick<SqliteStoreOptions, 'worker' | 'lookup'>;

function shardFile(dataDir: string, rec: Pick<ShardRecord, 'dir'>): string {
  return join(dataDir, rec.dir, SQLITE_FILE_NAME);
}

function same(a: ShardManifest | undefined, b: ShardManifest | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Opens the active shard's store under its lock, then re-reads the manifest: a rotation holds the
 * active shard's lock while it writes the manifest, so a manifest unchanged after the lock is
 * taken names the shard that really is active (a server never appends to a shard being frozen).
 */
export async function lockActiveShard(
  dataDir: string,
  opts: StoreOptions = {},
): Promise<{
  manifest: ShardManifest | undefined;
  record: Omit<ShardRecord, 'treeId'> & { treeId?: string };
  store: LogStore;
}> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const manifest = readManifest(dataDir);
    const record = manifest?.active ?? SINGLE_TREE;
    if (manifest && !existsSync(shardFile(dataDir, record))) {
      throw new SigilError(
        'STORAGE_FAILURE',
        `the active shard ${record.dir} named by the shard manifest is missing`,
      );
    }
    const store = await openSqliteStore({ dir: join(dataDir, record.dir), ...opts });
    if (same(manifest, readManifest(dataDir))) return { manifest, record, store };
    await store.close();
  }
  throw new SigilError('LOCKED', `the shards of ${dataDir} keep changing (is a rotation running?)`);
}

async function openFrozen(
  dataDir: string,
  record: FrozenShard,
  offset: number,
  opts: StoreOptions,
): Promise<FrozenShardLog> {
  const file = shardFile(dataDir, record);
  if (!existsSync(file))
    throw new SigilError('STORAGE_FAILURE', `frozen shard ${record.treeId} (${record.dir}) is missing`);
  const store = await openSqliteStore({ dir: join(dataDir, record.dir), ...opts });
  let log: Log;
  try {
    log = await createLog({ store, signTreeHead: frozenSigner });
  } catch (e) {
    await store.close().catch(() => undefined);
    throw e;
  }
  const head = log.latestTreeHead();
  const matches =
    log.treeId === record.treeId &&
    head.size === record.size &&
    head.rootHash.toString('hex') === record.rootHash &&
    head.signed === record.signedTreeHead;
  if (!matches) {
    await log.close().catch(() => undefined);
    throw new SigilError(
      'STORAGE_FAILURE',
      `frozen shard ${record.treeId} (${record.dir}) no longer holds the tree head it was frozen at (size ${record.size})`,
    );
  }
  return { record, log, offset };
}

/** Opens every shard of a data directory: the active one's store (locked) and the frozen ones as read-only logs. */
export async function openShards(dataDir: string, opts: StoreOptions = {}): Promise<OpenedShards> {
  const { manifest, record, store } = await lockActiveShard(dataDir, opts);
  const inactive: FrozenShardLog[] = [];
  const closeInactive = async (): Promise<void> => {
    await Promise.all(inactive.map((s) => s.log.close().catch(() => undefined)));
  };
  try {
    const { treeId } = await store.load();
    if (record.treeId !== undefined && record.treeId !== treeId) {
      throw new SigilError(
        'STORAGE_FAILURE',
        `the active shard ${record.dir} holds tree ${treeId}, the manifest says ${record.treeId}`,
      );
    }
    let offset = 0;
    for (const frozen of manifest?.inactive ?? []) {
      inactive.push(await openFrozen(dataDir, frozen, offset, opts));
      offset += frozen.size;
    }
    return { active: { record: { ...record, treeId }, store, offset }, inactive, closeInactive };
  } catch (e) {
    await closeInactive();
    await store.close().catch(() => undefined);
    throw e;
  }
}
