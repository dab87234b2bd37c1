import { SigilError, toSigilError } from '../errors/index.js';
import { inclusionProof, leafHash } from '../merkle/index.js';
import type { TreeReader } from './reader.js';
import type { PendingQueue } from './store/pg/pending.js';
import type { PgReads } from './store/pg/reads.js';
import type { AppendOptions, AppendResult, StoredEntry, TreeHead } from './types.js';

const FLUSH_MAX = 1000;
const FLUSH_PARALLEL = 4;

interface Waiter {
  leaf: Buffer;
  leafHash: Buffer;
  duplicate: boolean;
  deadline: number;
  resolve(r: AppendResult): void;
  reject(e: unknown): void;
}

interface Outgoing {
  leaf: Buffer;
  leafHash: Buffer;
  indexKeys: string[];
  resolve(r: AppendResult): void;
  reject(e: unknown): void;
}

export interface ForwarderDeps {
  reads: PgReads;
  queue: PendingQueue;
  /** Proofs for the answers, from the stored nodes. */
  reader: TreeReader;
  maxPending: number;
  appendTimeoutMs: number;
  closed(): boolean;
  /** Called once appends are queued: the replica re-reads the head and calls `answer`. */
  queued(): void;
}

/**
 * The forwarding half of a PostgreSQL replica that is not the sequencer: appends go to the
 * `pending` table in multi-row rounds, and each waits until a tree head covers its entry (see
 * ReplicatedLog); the answer carries an inclusion proof against that head.
 */
export class Forwarder {
  private outbox: Outgoing[] = [];
  /** Queue rounds in flight (several, so a round's round trips do not hold back the next appends). */
  private flushing = 0;
  private readonly waiters = new Map<string, Waiter[]>();
  private waiting = 0;
  readonly counters = { forwarded: 0, duplicates: 0 };

  constructor(private readonly deps: ForwarderDeps) {}

  /** Appends waiting here (queued or not yet). */
  pending(): number {
    return this.outbox.length + this.waiting;
  }

  /** Queues a checked append; PUSHBACK past maxPending. */
  add(leaf: Buffer, opts?: AppendOptions): Promise<AppendResult> {
    const max = this.deps.maxPending;
    if (this.outbox.length + this.waiting >= max) {
      return Promise.reject(
        new SigilError('PUSHBACK', `log is busy: ${this.outbox.length + this.waiting} appends waiting`, {
          headers: { 'retry-after': '1' },
        }),
      );
    }
    const copy = Buffer.from(leaf);
    return new Promise<AppendResult>((resolve, reject) => {
      this.outbox.push({
        leaf: copy,
        leafHash: leafHash(copy),
        indexKeys: [...(opts?.indexKeys ?? [])],
        resolve,
        reject,
      });
      if (this.flushing < FLUSH_PARALLEL) setImmediate(() => void this.flush());
    });
  }

  /** Queues the outbox in `pending` (one multi-row INSERT per round, see PendingQueue) and waits for integration. */
  private async flush(): Promise<void> {
    if (this.flushing >= FLUSH_PARALLEL) return;
    this.flushing += 1;
    try {
      while (this.outbox.length > 0 && !this.deps.closed()) {
        const batch = this.outbox.splice(0, FLUSH_MAX);
        try {
          await this.queue(batch);
        } catch (e) {
          const err = toSigilError(e, 'STORAGE_FAILURE');
          for (const o of batch) o.reject(err);
        }
      }
    } finally {
      this.flushing -= 1;
    }
  }

  private async queue(batch: Outgoing[]): Promise<void> {
    const first = new Map<string, Outgoing>();
    for (const o of batch)
      if (!first.has(o.leafHash.toString('hex'))) first.set(o.leafHash.toString('hex'), o);
    const unique = [...first.values()];
    const stored = new Set(
      (await this.deps.reads.locate(unique.map((o) => o.leafHash))).map((e) => e.leafHash.toString('hex')),
    );
    const fresh = unique.filter((o) => !stored.has(o.leafHash.toString('hex')));
    const inserted = new Set((await this.deps.queue.add(fresh)).map((h) => h.toString('hex')));
    const deadline = Date.now() + this.deps.appendTimeoutMs;
    for (const o of batch) {
      const key = o.leafHash.toString('hex');
      const duplicate = first.get(key) !== o || !inserted.has(key);
      const list = this.waiters.get(key) ?? [];
      list.push({
        leaf: o.leaf,
        leafHash: o.leafHash,
        duplicate,
        deadline,
        resolve: o.resolve,
        reject: o.reject,
      });
      this.waiters.set(key, list);
      this.waiting += 1;
      this.counters.forwarded += 1;
    }
    this.deps.queued();
  }

  /** Answers the waiters whose entries `head` covers, with proofs against it. */
  async answer(head: TreeHead): Promise<void> {
    if (this.waiters.size === 0) return;
    const hashes = [...this.waiters.values()].map((list) => list[0]!.leafHash);
    const found = (await this.deps.reads.locate(hashes)).filter((e) => e.index < head.size);
    if (found.length === 0) return;
    const proofs = await this.deps.reader.withSource((src) =>
      found.map((e) => inclusionProof(src, e.index, head.size)),
    );
    found.forEach((e, i) => {
      const key = e.leafHash.toString('hex');
      const list = this.waiters.get(key);
      if (!list) return;
      this.waiters.delete(key);
      this.waiting -= list.length;
      const entry: StoredEntry = {
        index: e.index,
        leaf: list[0]!.leaf,
        leafHash: e.leafHash,
        integratedTime: e.integratedTime,
      };
      for (const w of list) {
        if (w.duplicate) this.counters.duplicates += 1;
        w.resolve({
          entry,
          duplicate: w.duplicate,
          treeHead: head,
          inclusionProof: proofs[i]!.map((p) => Buffer.from(p)),
        });
      }
    });
  }

  /** Answers UNAVAILABLE (the entry stays queued) to waiters past their deadline. */
  expire(now: number): void {
    for (const [key, list] of this.waiters) {
      const keep = list.filter((w) => w.deadline > now);
      for (const w of list) {
        if (w.deadline <= now) {
          w.reject(
            new SigilError(
              'UNAVAILABLE',
              'the entry is queued but no sequencer integrated it in time; retry later',
              {
                headers: { 'retry-after': '1' },
              },
            ),
          );
        }
      }
      this.waiting -= list.length - keep.length;
      if (keep.length === 0) this.waiters.delete(key);
      else this.waiters.set(key, keep);
    }
  }

  rejectAll(err: SigilError): void {
    for (const o of this.outbox.splice(0)) o.reject(err);
    for (const list of this.waiters.values()) for (const w of list) w.reject(err);
    this.waiters.clear();
    this.waiting = 0;
  }
}
