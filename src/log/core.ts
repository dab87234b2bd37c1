import { SigilError, toSigilError } from '../errors/index.js';
import { leafHash } from '../merkle/index.js';
import {
  batchResults,
  firstOfEach,
  sequence,
  type InFlightBatch,
  type Pending,
  type Sequenced,
} from './batch.js';
import type { LogStore } from './store/types.js';
import { checkAppend } from './limits.js';
import { TreeReader } from './reader.js';
import { restoreTree } from './restore.js';
import type { TreeCache } from './tree-cache.js';
import {
  DEFAULT_CACHE_WINDOW,
  DEFAULT_HOT_LEVEL,
  DEFAULT_MAX_BATCH,
  DEFAULT_MAX_PENDING,
  RECENT_BYTES,
  RECENT_ENTRIES,
  type Log,
  type LogConfig,
  type LogStats,
} from './config.js';
import type { AppendOptions, AppendResult, StoredEntry, TreeHead, TreeHeadSigner } from './types.js';

export * from './config.js';

const COLD_CACHE_LIMIT = 65_536;

const leafBytes = (entries: readonly StoredEntry[]): number => entries.reduce((n, e) => n + e.leaf.length, 0);
/** Batches committing at once on a store that takes pipelined commits: one fsyncs while the next is built. */
const PIPELINE_DEPTH = 2;

/**
 * Opens the log over `store`: restores the tree (checking that the stored nodes reproduce the
 * stored tree head), creating and signing the empty tree head on a fresh store.
 */
export async function createLog(config: LogConfig): Promise<Log> {
  const log = new LogCore(config);
  await log.init();
  return log;
}

class LogCore implements Log {
  treeId = '';
  private head!: TreeHead;
  private cache!: TreeCache;
  private readonly reader: TreeReader;
  private readonly store: LogStore;
  private readonly sign: TreeHeadSigner;
  private readonly maxBatch: number;
  private readonly maxPending: number;
  private readonly now: () => number;
  private readonly hotLevel: number;
  private readonly cacheWindow: number;
  private readonly attest: LogConfig['attest'];
  private queue: Pending[] = [];
  private building = false;
  private scheduled = false;
  /** Batches whose commit was handed to the store, oldest first. */
  private inflight: InFlightBatch[] = [];
  /** Resolves when every started batch has finished (the chain that keeps them in order). */
  private settled: Promise<void> = Promise.resolve();
  /** Entries of batches in flight, by hex leaf hash: an append of one of them is a duplicate. */
  private readonly unsettled = new Map<string, StoredEntry>();
  /** Size and head including the batches in flight (this.head is the durable one). */
  private tipSize = 0;
  private tipHead!: TreeHead;
  /** The store refuses duplicates at commit and takes pipelined commits (LogStore.pipelinedCommits). */
  private readonly optimistic: boolean;
  private readonly depth: number;
  private verifyStored = false;
  /** Memory may be ahead of the store: reload before the next batch (once nothing is in flight). */
  private needsReload = false;
  private closing = false;
  private drained: (() => void) | undefined;
  private readonly counters = { commits: 0, failedCommits: 0, appended: 0, duplicates: 0, largestBatch: 0 };
  /** The newest durably committed batches' entries (each contiguous), oldest first. */
  private recent: (readonly StoredEntry[])[] = [];
  private recentCount = 0;
  private recentBytes = 0;

  constructor(config: LogConfig) {
    this.store = config.store;
    this.sign = config.signTreeHead;
    this.maxBatch = config.maxBatch ?? DEFAULT_MAX_BATCH;
    this.maxPending = config.maxPending ?? DEFAULT_MAX_PENDING;
    this.now = config.now ?? Date.now;
    this.hotLevel = config.hotLevel ?? DEFAULT_HOT_LEVEL;
    this.cacheWindow = config.cacheWindow ?? DEFAULT_CACHE_WINDOW;
    this.attest = config.attest;
    this.reader = new TreeReader({
      reads: config.store,
      head: () => this.head,
      hot: (level, index) => this.cache.get(level, index),
      coldLimit: COLD_CACHE_LIMIT,
    });
    this.optimistic = config.store.pipelinedCommits === true;
    this.depth = this.optimistic ? PIPELINE_DEPTH : 1;
    if (!(Number.isSafeInteger(this.maxBatch) && this.maxBatch >= 1))
      throw new RangeError('maxBatch must be ≥ 1');
    if (!(Number.isSafeInteger(this.maxPending) && this.maxPending >= 1))
      throw new RangeError('maxPending must be ≥ 1');
    if (this.cacheWindow < this.maxBatch) throw new RangeError('cacheWindow must be ≥ maxBatch');
  }

  async init(): Promise<void> {
    await this.reload();
  }

  /** Rebuilds the in-memory state from the store (at open and after a failed commit). */
  private async reload(): Promise<void> {
    this.reader.clear();
    const { treeId, head, cache } = await restoreTree(this.store, {
      sign: this.sign,
      now: this.now,
      hotLevel: this.hotLevel,
      cacheWindow: this.cacheWindow,
    });
    this.treeId = treeId;
    this.cache = cache;
    this.head = head;
    this.tipHead = head;
    this.tipSize = head.size;
    this.unsettled.clear();
    // Remembered entries were durably committed, so a reload (after a refused batch) keeps them.
    this.recent = this.recent.filter((b) => b[0]!.index + b.length <= head.size);
    this.recentCount = this.recent.reduce((n, b) => n + b.length, 0);
    this.recentBytes = this.recent.reduce((n, b) => n + leafBytes(b), 0);
    this.needsReload = false;
  }

  append(leaf: Buffer, opts?: AppendOptions): Promise<AppendResult> {
    if (this.closing) return Promise.reject(new SigilError('UNAVAILABLE', 'log is shutting down'));
    const bad = checkAppend(leaf, opts);
    if (bad) return Promise.reject(bad);
    const indexKeys = opts?.indexKeys ?? [];
    if (this.queue.length >= this.maxPending) {
      return Promise.reject(
        new SigilError('PUSHBACK', `log is busy: ${this.queue.length} appends waiting`, {
          headers: { 'retry-after': '1' },
        }),
      );
    }
    const copy = Buffer.from(leaf);
    const hash = leafHash(copy);
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({
        leaf: copy,
        leafHash: hash,
        key: hash.toString('hex'),
        indexKeys: [...indexKeys],
        resolve,
        reject,
      });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    if (!this.canStart()) {
      if (!this.building && this.inflight.length === 0 && this.queue.length === 0) this.drained?.();
      return;
    }
    this.scheduled = true;
    // setImmediate lets the event loop take in more requests (and I/O) before each batch.
    setImmediate(() => {
      this.scheduled = false;
      void this.runBatch();
    });
  }

  /**
   * A batch starts when nothing is being built and the pipeline has room; behind a batch in
   * flight, only once as many appends wait as that batch holds, so that batches (and their
   * per-batch costs: an fsync, a tree head signature) do not shrink to a few entries each.
   */
  private canStart(): boolean {
    if (this.building || this.queue.length === 0) return false;
    const last = this.inflight[this.inflight.length - 1];
    return (
      last === undefined || (this.inflight.length < this.depth && this.queue.length >= last.batch.length)
    );
  }

  private async runBatch(): Promise<void> {
    if (!this.canStart()) return;
    // After a failure, memory is brought back to the durable state once nothing is in flight.
    if (this.needsReload && this.inflight.length > 0) return;
    this.building = true;
    const batch = this.queue.splice(0, this.maxBatch);
    try {
      await this.startBatch(batch);
    } catch (e) {
      const err = toSigilError(e, 'STORAGE_FAILURE');
      for (const p of batch) p.reject(err);
    } finally {
      this.building = false;
      this.schedule();
    }
  }

  /**
   * Dedups, sequences and integrates a batch, then hands its commit to the store without waiting
   * for it: with a store that takes pipelined commits, the next batch is built while this one's
   * fsync runs. Results are released in order by `finish`, only after the batch's durable commit.
   */
  private async startBatch(batch: Pending[]): Promise<void> {
    if (this.needsReload) {
      try {
        await this.reload();
      } catch (e) {
        throw new SigilError('STORAGE_FAILURE', 'log store is unavailable', { cause: e });
      }
    }
    const { firstByHash, unique } = firstOfEach(batch);
    // Known entries: stored ones (looked up first unless the store refuses duplicates itself at
    // commit: then a conflict sends the batches back with `verifyStored` set) and entries of
    // batches still in flight.
    const known = new Map<string, StoredEntry>();
    if (!this.optimistic || this.verifyStored) {
      for (const e of await this.store.findByLeafHashes(unique.map((p) => p.leafHash)))
        known.set(e.leafHash.toString('hex'), e);
      this.verifyStored = false;
    }
    for (const p of unique) {
      const e = this.unsettled.get(p.key);
      if (e !== undefined && !known.has(p.key)) known.set(p.key, e);
    }

    const previousSize = this.tipSize;
    const integratedTime = Math.floor(this.now() / 1000);
    let head = this.tipHead;
    let attesting: Promise<readonly Buffer[] | undefined> | undefined;
    let committing: Promise<void> = Promise.resolve();
    let sequenced: Sequenced = { entries: [], nodes: [], byHash: known };
    try {
      sequenced = sequence(unique, known, previousSize, integratedTime, this.cache);
      const { entries, nodes, byHash } = sequenced;
      if (entries.length > 0) {
        const size = previousSize + entries.length;
        const rootHash = await this.reader.withSource((src) => src.hashRange(0, size) as Buffer);
        const timestamp = this.now();
        head = { size, rootHash, timestamp, signed: this.sign(size, rootHash, timestamp) };
        // Started before the commit, awaited after it: nothing is released before durability.
        const attest = this.attest;
        if (attest !== undefined) {
          attesting = Promise.resolve()
            .then(() => attest(entries))
            .then(
              (a) => (a.length === entries.length ? a : undefined),
              () => undefined,
            );
        }
        committing = this.store.commitBatch({ previousSize, entries, nodes, treeHead: head });
        // Marked handled here; `finish` awaits it in order.
        committing.catch(() => undefined);
        this.tipSize = size;
        this.tipHead = head;
        for (const [key, e] of byHash) if (!known.has(key)) this.unsettled.set(key, e);
      }
    } catch (e) {
      this.needsReload = true;
      throw toSigilError(
        e,
        'STORAGE_FAILURE',
        `log commit failed: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
    const { entries, byHash } = sequenced;
    const inflight: InFlightBatch = {
      batch,
      firstByHash,
      known,
      entries,
      byHash,
      previousSize,
      head,
      committing,
      attesting,
    };
    this.inflight.push(inflight);
    const previous = this.settled;
    this.settled = previous.then(() => this.finish(inflight));
  }

  /** Releases a batch's results after its commit (batches finish in the order they started). */
  private async finish(b: InFlightBatch): Promise<void> {
    try {
      await b.committing;
    } catch (e) {
      this.counters.failedCommits += 1;
      this.needsReload = true;
      const conflict = e instanceof SigilError && e.code === 'DUPLICATE_ENTRY' && this.optimistic;
      const later = this.inflight.splice(0).filter((x) => x !== b);
      // Bring memory back to the durable state before anyone hears of the failure, so reads stay
      // right; if the store is down (or a batch is being built), the next batch reloads first.
      if (!this.building) await this.reload().catch(() => undefined);
      if (conflict) {
        // A leaf hash was stored already: this batch and the ones behind it (refused in turn
        // for their previous size) run again, looking their entries up first.
        this.verifyStored = true;
        this.queue.unshift(...b.batch, ...later.flatMap((x) => x.batch));
        for (const x of later) x.batch.length = 0;
      } else {
        const err = toSigilError(
          e,
          'STORAGE_FAILURE',
          `log commit failed: ${e instanceof Error ? e.message : String(e)}`,
        );
        for (const p of b.batch) p.reject(err);
      }
      this.schedule();
      return;
    } finally {
      for (const key of b.byHash.keys()) if (!b.known.has(key)) this.unsettled.delete(key);
    }
    if (this.inflight[0] !== b) {
      // A batch behind a failed one is normally refused by the store too (its previous size); if
      // it was stored after all, its appenders learn it on retry (as duplicates).
      const err = new SigilError('STORAGE_FAILURE', 'log commit failed: an earlier batch failed; retry');
      for (const p of b.batch) p.reject(err);
      this.schedule();
      return;
    }
    this.inflight.shift();
    const { batch, head, entries } = b;
    if (entries.length > 0) {
      this.head = head;
      this.remember(entries);
      this.cache.trim();
      this.counters.commits += 1;
      this.counters.appended += entries.length;
      this.counters.largestBatch = Math.max(this.counters.largestBatch, entries.length);
    }
    try {
      const attestations = b.attesting === undefined ? undefined : await b.attesting;
      const results = await this.reader.withSource((src) => batchResults(b, src, attestations));
      for (const { pending, result } of results) {
        if (result.duplicate) this.counters.duplicates += 1;
        pending.resolve(result);
      }
    } catch (e) {
      const err = toSigilError(e, 'STORAGE_FAILURE');
      for (const p of batch) p.reject(err);
    } finally {
      this.schedule();
    }
  }

  latestTreeHead(): TreeHead {
    return this.head;
  }

  private remember(entries: readonly StoredEntry[]): void {
    this.recent.push(entries);
    this.recentCount += entries.length;
    this.recentBytes += leafBytes(entries);
    while (
      this.recent.length > 1 &&
      (this.recentCount - this.recent[0]!.length >= RECENT_ENTRIES || this.recentBytes > RECENT_BYTES)
    ) {
      const dropped = this.recent.shift()!;
      this.recentCount -= dropped.length;
      this.recentBytes -= leafBytes(dropped);
    }
  }

  recentEntries(start: number, count: number): readonly StoredEntry[] | undefined {
    if (!(Number.isSafeInteger(start) && Number.isSafeInteger(count) && start >= 0 && count >= 0))
      return undefined;
    const first = this.recent[0];
    if (first === undefined || start < first[0]!.index || start + count > this.head.size) return undefined;
    const out: StoredEntry[] = [];
    for (const batch of this.recent) {
      const at = start + out.length - batch[0]!.index;
      if (at >= batch.length) continue;
      // Batches are contiguous; a gap (never expected) means the entries are not all here.
      if (at < 0) return undefined;
      for (let i = at; i < batch.length && out.length < count; i++) out.push(batch[i]!);
      if (out.length === count) break;
    }
    return out.length === count ? out : undefined;
  }

  getEntry(index: number): Promise<StoredEntry | undefined> {
    return this.reader.getEntry(index);
  }

  getEntries(start: number, count: number): Promise<StoredEntry[]> {
    return this.reader.getEntries(start, count);
  }

  findByLeafHash(hash: Buffer): Promise<StoredEntry | undefined> {
    return this.reader.findByLeafHash(hash);
  }

  lookupIndexKey(key: string, limit?: number): Promise<number[]> {
    return this.reader.lookupIndexKey(key, limit);
  }

  rootAt(size: number): Promise<Buffer> {
    return this.reader.rootAt(size);
  }

  inclusionProof(index: number, treeSize: number): Promise<Buffer[]> {
    return this.reader.inclusionProof(index, treeSize);
  }

  consistencyProof(first: number, second: number): Promise<Buffer[]> {
    return this.reader.consistencyProof(first, second);
  }

  stats(): LogStats {
    return { ...this.counters, pending: this.queue.length };
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.building || this.inflight.length > 0 || this.queue.length > 0 || this.scheduled) {
      await new Promise<void>((resolve) => {
        this.drained = resolve;
      });
    }
    await this.store.close();
  }
}
