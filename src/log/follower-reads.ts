import { SigilError } from '../errors/index.js';
import { EMPTY_ROOT, consistencyProof, inclusionProof, type HashSource } from '../merkle/index.js';
import {
  MAX_GET_ENTRIES,
  MAX_INDEX_KEY_LENGTH,
  MAX_INDEX_LOOKUP_LIMIT,
  DEFAULT_INDEX_LOOKUP_LIMIT,
  isIndex,
} from './limits.js';
import { composingSource, nodeKey } from './hash-source.js';
import type { StoredEntry, TreeHead } from './types.js';
import type { NodeId } from './store/types.js';
import type { PgReads } from './store/pg/reads.js';

const NODE_CACHE_LIMIT = 200_000;

/**
 * The read half of the log for a replica that is not the sequencer: everything comes from the
 * database, bounded by the tree head the replica last read, with proofs composed from stored
 * complete-subtree hashes (one round trip per proof, nodes cached: they never change).
 * Argument checks mirror the log core's.
 */
export class FollowerReads {
  private readonly nodes = new Map<number, Buffer>();
  private readonly memo = new Map<string, Buffer>();

  constructor(
    private readonly reads: PgReads,
    private readonly head: () => TreeHead,
  ) {}

  async getEntry(index: number): Promise<StoredEntry | undefined> {
    if (!isIndex(index) || index >= this.head().size) return undefined;
    const [e] = await this.reads.getEntries(index, 1);
    return e;
  }

  async getEntries(start: number, count: number): Promise<StoredEntry[]> {
    if (!isIndex(start) || !isIndex(count))
      throw new SigilError('INVALID_INPUT', 'start and count must be non-negative integers');
    if (count > MAX_GET_ENTRIES)
      throw new SigilError('INVALID_INPUT', `at most ${MAX_GET_ENTRIES} entries per read`);
    const end = Math.min(start + count, this.head().size);
    if (end <= start) return [];
    return this.reads.getEntries(start, end - start);
  }

  async findByLeafHash(hash: Buffer): Promise<StoredEntry | undefined> {
    if (!(hash instanceof Uint8Array) || hash.length !== 32) return undefined;
    const size = this.head().size;
    const [e] = await this.reads.findByLeafHashes([Buffer.from(hash)]);
    return e !== undefined && e.index < size ? e : undefined;
  }

  async lookupIndexKey(key: string, limit = DEFAULT_INDEX_LOOKUP_LIMIT): Promise<number[]> {
    if (typeof key !== 'string' || key.length === 0 || key.length > MAX_INDEX_KEY_LENGTH) {
      throw new SigilError('INVALID_INPUT', 'index key must be a non-empty string of bounded length');
    }
    if (!(Number.isSafeInteger(limit) && limit >= 1 && limit <= MAX_INDEX_LOOKUP_LIMIT)) {
      throw new SigilError('INVALID_INPUT', `limit must be between 1 and ${MAX_INDEX_LOOKUP_LIMIT}`);
    }
    const size = this.head().size;
    return (await this.reads.lookupIndexKey(key, limit)).filter((i) => i < size);
  }

  private checkSize(size: number, what: string): void {
    const current = this.head().size;
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
    const head = this.head();
    if (size === head.size) return head.rootHash;
    return Buffer.from(await this.withSource((src) => src.hashRange(0, size)));
  }

  async inclusionProof(index: number, treeSize: number): Promise<Buffer[]> {
    this.checkSize(treeSize, 'tree size');
    if (!isIndex(index) || index >= treeSize) {
      throw new SigilError('INVALID_INPUT', `index ${index} is not in a tree of size ${treeSize}`);
    }
    return (await this.withSource((src) => inclusionProof(src, index, treeSize))).map((p) => Buffer.from(p));
  }

  async consistencyProof(first: number, second: number): Promise<Buffer[]> {
    this.checkSize(second, 'tree size');
    if (!isIndex(first) || first > second) {
      throw new SigilError('INVALID_INPUT', `first size ${first} must be between 0 and ${second}`);
    }
    return (await this.withSource((src) => consistencyProof(src, first, second))).map((p) => Buffer.from(p));
  }

  /** Runs the pure `fn` over cached nodes; fetches what it lacked in one query and runs it again. */
  async withSource<T>(fn: (src: HashSource) => T): Promise<T> {
    for (let pass = 0; pass < 3; pass++) {
      const missing = new Map<number, NodeId>();
      const out = fn(composingSource((l, i) => this.nodes.get(nodeKey(l, i)), missing, this.memo));
      if (missing.size === 0) return out;
      const ids = [...missing.values()];
      const hashes = await this.reads.getNodes(ids);
      ids.forEach((id, i) => {
        const h = hashes[i];
        if (h === undefined)
          throw new SigilError('STORAGE_FAILURE', `log store lacks tree node ${id.level}/${id.index}`);
        if (this.nodes.size >= NODE_CACHE_LIMIT) this.nodes.delete(this.nodes.keys().next().value!);
        this.nodes.set(nodeKey(id.level, id.index), h);
      });
    }
    throw new SigilError('STORAGE_FAILURE', 'tree nodes kept changing while computing a proof');
  }
}
