import type { LogStore } from './store/types.js';
import type { StoredEntry, TransparencyLog, TreeHeadSigner } from './types.js';

/** The log core's configuration and its defaults (createLog in core.ts). */
export const DEFAULT_MAX_BATCH = 1024;
export const DEFAULT_MAX_PENDING = 20_000;
/**
 * Levels at and above this stay in memory entirely (about size / 2^(HOT_LEVEL-1) hashes, ~170
 * bytes each): at 10 M entries ~50 MB more than level 10 and an open ~2 s longer, and a random
 * inclusion proof reads 6 nodes from the store instead of 10 (10 M entries on SQLite, 5,000
 * random proofs: p99 1.8–2.5 ms against 2.8–3.9 ms at level 10).
 */
export const DEFAULT_HOT_LEVEL = 6;
/** Below the hot level, nodes of this many most recent leaves stay in memory. */
export const DEFAULT_CACHE_WINDOW = 65_536;

export interface LogConfig {
  store: LogStore;
  signTreeHead: TreeHeadSigner;
  /** Most appends committed in one transaction. */
  maxBatch?: number;
  /** Appends waiting beyond this are refused with PUSHBACK (503 + Retry-After). */
  maxPending?: number;
  /** Clock in Unix milliseconds. */
  now?: () => number;
  hotLevel?: number;
  cacheWindow?: number;
  /**
   * Per-entry attestations (e.g. Rekor signed entry timestamps), produced for a batch's new
   * entries (index and integratedTime assigned) while the batch commits, so the signing overlaps
   * the fsync instead of following it. Results reach appenders only after the durable commit,
   * as `attestation` on their AppendResult; if it fails, results carry none.
   */
  attest?: (entries: readonly StoredEntry[]) => Promise<readonly Buffer[]>;
}

export interface LogStats {
  /** Durable batch commits since open (the initial empty tree head is not counted). */
  commits: number;
  failedCommits: number;
  /** New entries committed since open. */
  appended: number;
  duplicates: number;
  pending: number;
  largestBatch: number;
}

/** The log core as createLog returns it: the personality contract plus operational figures. */
export interface Log extends TransparencyLog {
  stats(): LogStats;
  /**
   * Entries `start … start + count - 1` when all of them are durably committed and still held
   * in memory from their batches (the most recent RECENT_ENTRIES or RECENT_BYTES of leaves,
   * whichever is less, and at least the newest batch), else undefined: the
   * tile writer reads what was just appended without a round trip through the store.
   */
  recentEntries?(start: number, count: number): readonly StoredEntry[] | undefined;
}

/** About how many of the newest committed entries the core keeps for recentEntries. */
export const RECENT_ENTRIES = 16_384;
/** At most about this many bytes of leaves kept for recentEntries (large DSSE entries run to 64 KiB). */
export const RECENT_BYTES = 32 * 1024 * 1024;
