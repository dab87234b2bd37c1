import type { StoredEntry, TreeHead } from '../types.js';

/**
 * The storage role of the log: sequencing and the latest signed tree head, plus the hashes of
 * complete subtrees so proofs never recompute from the leaves. Kept narrow on purpose so a
 * second driver (PostgreSQL) implements the same small surface.
 *
 * Contract every driver must honour:
 * - Durability: when `commitBatch` resolves, the batch's entries, index keys, nodes and tree
 *   head are durable (they survive a process crash and a power loss of the host).
 * - Atomicity: a batch is all or nothing. A rejected `commitBatch` may have committed (a fault
 *   after the commit point); the caller must then re-read the state with `load()`.
 * - Ordering: `commitBatch` refuses (STORAGE_FAILURE) unless the stored tree size equals
 *   `batch.previousSize`; entries carry the dense indexes previousSize … previousSize+n-1.
 * - Concurrency: one writer per log. A driver refuses a second writer with SigilError LOCKED
 *   (across processes and, for networked stores, across hosts). Calls from the one writer are
 *   not overlapped for `commitBatch`; reads may overlap a commit and must see either the state
 *   before or after it.
 */
export interface LogStore {
  /** A short description for logs (path or connection target, never credentials). */
  readonly description: string;
  /**
   * True when the driver takes pipelined commits: `commitBatch` may be called again before the
   * previous call resolved, and calls apply in call order (each checking `previousSize`); and a
   * batch holding a leaf hash that is already stored is refused with DUPLICATE_ENTRY, writing
   * nothing. The core then skips the lookup before each batch and builds the next batch while
   * one commits.
   */
  readonly pipelinedCommits?: boolean;
  /** The persisted identity and latest signed tree head (undefined on a fresh store). */
  load(): Promise<StoreState>;
  commitBatch(batch: CommitBatch): Promise<void>;
  /** Entries with indexes start … start+count-1 that exist, in index order. */
  getEntries(start: number, count: number): Promise<StoredEntry[]>;
  /** The stored entries among the given leaf hashes (any order; absent ones are left out). */
  findByLeafHashes(leafHashes: readonly Buffer[]): Promise<StoredEntry[]>;
  /** Indexes filed under `key`, ascending, at most `limit`. */
  lookupIndexKey(key: string, limit: number): Promise<number[]>;
  /** Hashes of nodes (level, index … index+count-1); level 0 are the leaf hashes. */
  getNodeRange(level: number, start: number, count: number): Promise<Buffer[]>;
  /** Hashes of the given nodes, undefined where absent. One round trip for a networked store. */
  getNodes(nodes: readonly NodeId[]): Promise<(Buffer | undefined)[]>;
  close(): Promise<void>;
}

export interface StoreState {
  /** Decimal tree ID (random positive int63), created with the store. */
  treeId: string;
  treeHead: TreeHead | undefined;
}

export interface NodeId {
  level: number;
  index: number;
}

export interface NodeHash extends NodeId {
  hash: Buffer;
}

export interface NewEntry {
  index: number;
  leaf: Buffer;
  leafHash: Buffer;
  /** Unix seconds. */
  integratedTime: number;
  indexKeys: readonly string[];
}

export interface CommitBatch {
  /** Tree size the batch extends; the store refuses the batch if it holds another size. */
  previousSize: number;
  entries: readonly NewEntry[];
  /** Complete-subtree hashes (level ≥ 1) that the new entries completed. */
  nodes: readonly NodeHash[];
  /** The signed tree head of previousSize + entries.length, stored in the same transaction. */
  treeHead: TreeHead;
}
