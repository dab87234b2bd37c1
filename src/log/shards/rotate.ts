import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { SigilError } from '../../errors/index.js';
import { createLog } from '../core.js';
import { openSqliteStore, SQLITE_FILE_NAME } from '../store/sqlite/sqlite.js';
import {
  fsyncPath,
  MANIFEST_FILE,
  MANIFEST_VERSION,
  MAX_SHARDS,
  writeManifest,
  type FrozenShard,
  type ShardRecord,
} from './manifest.js';
import { frozenSigner, lockActiveShard } from './open.js';

/** Points where a rotation can be interrupted (tests stop there to check the log stays whole). */
export type RotateStep = 'locked' | 'shard-created' | 'manifest-written';

export interface RotateOptions {
  /** Called after each step; a test may kill the process here. */
  onStep?: (step: RotateStep) => void | Promise<void>;
}

export interface RotateResult {
  frozen: FrozenShard;
  active: ShardRecord;
  /** Global index of the new shard's first entry. */
  activeOffset: number;
}

/** Creates the new shard's database (it draws its own random tree ID); the server signs its empty tree head. */
async function createShard(dataDir: string, dir: string, taken: Set<string>): Promise<string> {
  const path = join(dataDir, dir);
  for (let attempt = 0; attempt < 3; attempt++) {
    // Only an interrupted rotation leaves this directory behind: no manifest ever named it.
    rmSync(path, { recursive: true, force: true });
    mkdirSync(path, { recursive: true, mode: 0o700 });
    const store = await openSqliteStore({ dir: path, worker: false });
    const { treeId } = await store.load();
    await store.close();
    if (taken.has(treeId)) continue;
    fsyncPath(path);
    fsyncPath(join(path, '..'));
    return treeId;
  }
  throw new SigilError('STORAGE_FAILURE', 'could not draw a tree ID unused by the other shards');
}

/**
 * `sigil log rotate`: freezes the active tree at its latest signed tree head and starts a new
 * tree (new tree ID, same log key) whose global indexes continue after the frozen one's size.
 * Runs with the server stopped: it takes the active shard's lock (LOCKED while a server holds
 * it). The only commit point is the atomic manifest write, so an interruption before it leaves
 * the old tree active (the half-made shard directory is unreferenced and reused next time), and
 * after it leaves the rotation done.
 */
export async function rotateLog(dataDir: string, opts: RotateOptions = {}): Promise<RotateResult> {
  if (!existsSync(join(dataDir, SQLITE_FILE_NAME)) && !existsSync(join(dataDir, MANIFEST_FILE))) {
    throw new SigilError(
      'INVALID_INPUT',
      `${dataDir} holds no log (serve it once with \`sigil log serve --data-dir\`)`,
    );
  }
  const { manifest, record, store } = await lockActiveShard(dataDir, { worker: false });
  let closed = false;
  try {
    const state = await store.load();
    if (state.treeHead === undefined || state.treeHead.size === 0) {
      throw new SigilError(
        'INVALID_INPUT',
        `the active tree ${state.treeId} holds no entries: nothing to freeze`,
      );
    }
    // Rebuilding the tree checks that the stored nodes reproduce the signed head being frozen.
    const log = await createLog({ store, signTreeHead: frozenSigner });
    const head = log.latestTreeHead();
    const inactive = manifest?.inactive ?? [];
    if (inactive.length + 1 >= MAX_SHARDS)
      throw new SigilError('INVALID_INPUT', `a log holds at most ${MAX_SHARDS} shards`);
    await opts.onStep?.('locked');

    const dir = `shards/${inactive.length + 1}`;
    const taken = new Set([...inactive.map((s) => s.treeId), state.treeId]);
    const treeId = await createShard(dataDir, dir, taken);
    await opts.onStep?.('shard-created');

    const frozen: FrozenShard = {
      treeId: state.treeId,
      dir: record.dir,
      tiles: record.tiles,
      size: head.size,
      rootHash: head.rootHash.toString('hex'),
      signedTreeHead: head.signed,
    };
    const active: ShardRecord = { treeId, dir, tiles: `tiles/${treeId}` };
    writeManifest(dataDir, { version: MANIFEST_VERSION, inactive: [...inactive, frozen], active });
    await opts.onStep?.('manifest-written');
    closed = true;
    await log.close();
    return { frozen, active, activeOffset: inactive.reduce((n, s) => n + s.size, 0) + head.size };
  } finally {
    if (!closed) await store.close().catch(() => undefined);
  }
}
