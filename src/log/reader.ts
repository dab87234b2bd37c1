import { SigilError } from '../errors/index.js';
import { EMPTY_ROOT, consistencyProof, inclusionProof, type HashSource } from '../merkle/index.js';
import { composingSource, nodeKey, type NodeLookup } from './hash-source.js';
import {
  DEFAULT_INDEX_LOOKUP_LIMIT,
  isIndex,
  MAX_GET_ENTRIES,
  MAX_INDEX_KEY_LENGTH,
  MAX_INDEX_LOOKUP_LIMIT,
} from './limits.js';
import type { LogStore } from './store/types.js';
import type { StoredEntry, TreeHead } from './types.js';

/** The reads a TreeReader needs: a LogStore has them, and so has a PostgreSQL follower's PgReads. */
export type TreeReads = Pick<LogStore, 'getEntries' | 'findByLeafHashes' | 'lookupIndexKey' | 'getNodes'>;

export interface TreeReaderConfig {
  reads: TreeReads;
  /** The tree head reads are bounded by (the durable one). */
  head(): TreeHead;
  /** Nodes kept in memory by the owner (the sequencer's tree cache); the rest are fetched. */
  hot?: NodeLookup;
  /** Fetched nodes kept (they never change), oldest dropped first. */
  coldLimit: number;
}

function copyProof(proof: readonly Uint8Array[]): Buffer[] {
  return proof.map((p) => Buffer.from(p));
}

/**
 * The read half of a log, the same for the sequencer and the PostgreSQL followers: entries,
 * lookups, roots and proofs, each bounded by `head()`, with argument checks in one place.
 */
export class TreeReader {
  private readonly cold = new Map<number, Buffer>();
  private readonly memo = new Map<string, Buffer>();

  constructor(private readonly config: TreeReaderConfig) {}

  /** Forgets what was cached (after the owner reloaded its tree). */
  clear(): void {
    this.cold.clear();
    this.memo.clear();
  }

  /**
   * Runs the pure `fn` over a HashSource backed by memory; nodes it lacks are fetched in one call
   * and `fn` runs again.
   */
  async withSource<T>(fn: (src: HashSource) => T): Promise<T> {
    const fetched = new Map<number, Buffer>();
    const hot = this.config.hot;
    const lookup = (level: number, index: number): Buffer | undefined => {
      const h = hot?.(level, index);
      if (h !== undefined) return h;
      const key = nodeKey(level, index);
      return fetched.get(key) ?? this.cold.get(key);
    };
    for (let pass = 0; pass < 3; pass++) {
      const missing = new Map<number, { level: number; index: number }>();
      const out = fn(composingSource(lookup, missing, this.memo));
      if (missing.size === 0) return out;
      const ids = [...missing.values()];
      const hashes = await this.config.reads.getNodes(ids);
      ids.forEach((id, i) => {
        const h = hashes[i];
        if (h === undefined)
          throw new SigilError('STORAGE_FAILURE', `log store lacks tree node ${id.level}/${id.index}`);
        const key = nodeKey(id.level, id.index);
        fetched.set(key, h);
        if (this.cold.size >= this.config.coldLimit) this.cold.delete(this.cold.keys().next().value!);
        this.cold.set(key, h);
      });
    }
    throw new SigilError('STORAGE_FAILURE', 'tree nodes kept changing while computing a proof');
  }

  async getEntry(index: number): Promise<StoredEntry | undefined> {
    if (!isIndex(index) || index >= this.config.head().size) return undefined;
    const [e] = await this.config.reads.getEntries(index, 1);
    return e;
  }

  async getEntries(start: number, count: number): Promise<StoredEntry[]> {
    if (!isIndex(start) || !isIndex(count))
      throw new SigilError('INVALID_INPUT', 'start and count must be non-negative integers');
    if (count > MAX_GET_ENTRIES)
      throw new SigilError('INVALID_INPUT', `at most ${MAX_GET_ENTRIES} entries per read`);
    const end = Math.min(start + count, this.config.head().size);
    if (end <= start) return [];
    return this.config.reads.getEntries(start, end - start);
  }

  async findByLeafHash(hash: Buffer): Promise<StoredEntry | undefined> {
    if (!(hash instanceof Uint8Array) || hash.length !== 32) return undefined;
    const size = this.config.head().size;
    const [e] = await this.config.reads.findByLeafHashes([Buffer.from(hash)]);
    return e !== undefined && e.index < size ? e : undefined;
  }

  async lookupIndexKey(key: string, limit = DEFAULT_INDEX_LOOKUP_LIMIT): Promise<number[]> {
    if (typeof key !== 'string' || key.length === 0 || key.length > MAX_INDEX_KEY_LENGTH) {
      throw new SigilError('INVALID_INPUT', 'index key must be a non-empty string of bounded length');
    }
    if (!(Number.isSafeInteger(limit) && limit >= 1 && limit <= MAX_INDEX_LOOKUP_LIMIT)) {
      throw new SigilError('INVALID_INPUT', `limit must be between 1 and ${MAX_INDEX_LOOKUP_LIMIT}`);
    }
    const size = this.config.head().size;
    return (await this.config.reads.lookupIndexKey(key, limit)).filter((i) => i < size);
  }

  private checkSize(size: number, what: string): void {
    const current = this.config.head().size;
    if (!isIndex(size) || size > current) {
      throw new SigilError(
        'INVALID_INPUT',
        `${what} ${size} is not a tree size of this log (current size ${current})`,
      );
    }
  }

  async rootAt(size: number): Promise<Buffer> {
    this.checkSize(size, 'tree size');
    if (size === 0) return EMPTY_ROOT;
    const head = this.config.head();
    if (size === head.size) return head.rootHash;
    return Buffer.from(await this.withSource((src) => src.hashRange(0, size)));
  }

  async inclusionProof(index: number, treeSize: number): Promise<Buffer[]> {
    this.checkSize(treeSize, 'tree size');
    if (!isIndex(index) || index >= treeSize) {
      throw new SigilError('INVALID_INPUT', `index ${index} is not in a tree of size ${treeSize}`);
    }
    return copyProof(await this.withSource((src) => inclusionProof(src, index, treeSize)));
  }

  async consistencyProof(first: number, second: number): Promise<Buffer[]> {
    this.checkSize(second, 'tree size');
    if (!isIndex(first) || first > second) {
      throw new SigilError('INVALID_INPUT', `first size ${first} must be between 0 and ${second}`);
    }
    return copyProof(await this.withSource((src) => consistencyProof(src, first, second)));
  }
}
