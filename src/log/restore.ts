import { SigilError } from '../errors/index.js';
import { EMPTY_ROOT } from '../merkle/index.js';
import { composingSource } from './hash-source.js';
import type { LogStore } from './store/types.js';
import { TreeCache } from './tree-cache.js';
import type { TreeHead, TreeHeadSigner } from './types.js';

/** Leaves whose low-level nodes are loaded at open (the window then fills as entries arrive). */
const OPEN_WINDOW = 4096;

export interface RestoredTree {
  treeId: string;
  head: TreeHead;
  cache: TreeCache;
}

export interface RestoreOptions {
  sign: TreeHeadSigner;
  now: () => number;
  hotLevel: number;
  cacheWindow: number;
}

/**
 * The durable state of the log as the core keeps it in memory: the stored tree head and the
 * cached nodes, checked to reproduce that head's root (a store whose nodes, entries and head
 * disagree is refused). A fresh store gets the signed empty tree head, committed first.
 */
export async function restoreTree(store: LogStore, o: RestoreOptions): Promise<RestoredTree> {
  const state = await store.load();
  let head = state.treeHead;
  if (head === undefined) {
    const stray = await store.getEntries(0, 1);
    if (stray.length > 0) throw new SigilError('STORAGE_FAILURE', 'log store has entries but no tree head');
    const timestamp = o.now();
    head = { size: 0, rootHash: EMPTY_ROOT, timestamp, signed: o.sign(0, EMPTY_ROOT, timestamp) };
    await store.commitBatch({ previousSize: 0, entries: [], nodes: [], treeHead: head });
  }
  const size = head.size;
  const cache = new TreeCache(o.hotLevel, o.cacheWindow);
  for (let level = 0; 2 ** level <= size; level++) {
    const count = TreeCache.countAt(size, level);
    const from = cache.keepFrom(size, level, Math.min(OPEN_WINDOW, o.cacheWindow));
    const hashes = await store.getNodeRange(level, from, count - from);
    if (hashes.length !== count - from) {
      throw new SigilError(
        'STORAGE_FAILURE',
        `log store lacks tree nodes at level ${level} (tree size ${size})`,
      );
    }
    cache.setLevel(level, from, hashes);
  }
  cache.size = size;
  const beyond = await store.getEntries(size, 1);
  if (beyond.length > 0)
    throw new SigilError('STORAGE_FAILURE', `log store has entries beyond its tree head (${size})`);
  const root =
    size === 0 ? EMPTY_ROOT : composingSource(cache.get.bind(cache), new Map(), new Map()).hashRange(0, size);
  if (!root.equals(head.rootHash)) {
    throw new SigilError(
      'STORAGE_FAILURE',
      `stored tree of size ${size} does not match its signed tree head`,
    );
  }
  return { treeId: state.treeId, head, cache };
}
