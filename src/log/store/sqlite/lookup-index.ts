import { hash } from 'node:crypto';
import type Database from 'better-sqlite3';
import { SigilError } from '../../../errors/index.js';
import { Bloom } from './bloom.js';
import type { NewEntry } from '../types.js';

/**
 * The lookup side of the SQLite store (leaf hash → index for duplicates, index key → indexes
 * for search), kept off the commit path in the manner of a log-structured merge tree.
 *
 * The durable source of truth is the entries table: every row carries its leaf hash and its
 * index keys, written in index order (cheap appends). The lookup structures are derived:
 * - the memtable: lookups of the newest entries, in memory, filled after each commit and
 *   rebuilt from the entries rows at open (so nothing depends on it surviving a crash);
 * - runs: sorted, immutable tables (`lookup_run_<id>`) of (k, idx) rows, each covering a
 *   contiguous range of entry indexes, the live ones together covering [0, memtable start).
 *   k is 9 bytes: 0x00 ‖ the first 8 bytes of a leaf hash, or 0x01 ‖ the first 8 bytes of
 *   SHA-256(index key). Prefixes keep runs small; a match is confirmed against the entry row
 *   (full leaf hash, stored index keys), so answers are exact. Each run has a Bloom filter of
 *   its leaf-hash prefixes in memory (stored with the run), so looking up a new leaf hash
 *   touches no run's pages.
 *
 * Background steps (each a small transaction on the same connection, between requests) freeze
 * the memtable into a new run written in key order, merge `fanout` adjacent runs of one size
 * tier into a bigger run (size-tiered compaction, so runs stay few: about fanout-1 per tier),
 * and drop dead runs' tables. A run becomes live, and its sources dead, in one transaction; a run
 * being built is not consulted, so lookups are exact at every moment. A crash leaves at most
 * a run being built (deleted later as garbage); the memtable is rebuilt from the entries rows
 * above the live runs.
 */
export interface LookupTuning {
  /** Entries in the memtable that start a flush into a run. */
  flushAt: number;
  /** Rows written per background step (bounds the pause a step adds to a request). */
  stepRows: number;
  /** Runs of one tier merged together. */
  fanout: number;
}

// A step blocks the store's one connection (commits and reads wait behind it): kept to a few ms.
export const DEFAULT_LOOKUP_TUNING: LookupTuning = { flushAt: 4096, stepRows: 2048, fanout: 8 };

export const LOOKUP_SCHEMA = `
CREATE TABLE IF NOT EXISTS lookup_runs (
  id INTEGER PRIMARY KEY,
  first INTEGER NOT NULL,
  end INTEGER NOT NULL,
  rows INTEGER NOT NULL,
  live INTEGER NOT NULL,
  bloom BLOB
);
`;

const runTable = (id: number): string => `lookup_run_${id}`;
const MAX_CANDIDATES = 64;

export function hashLookupKey(leafHash: Uint8Array): Buffer {
  const k = Buffer.alloc(9);
  k[0] = 0;
  k.set(leafHash.subarray(0, 8), 1);
  return k;
}

export function indexLookupKey(key: string): Buffer {
  const k = Buffer.alloc(9);
  k[0] = 1;
  hash('sha256', key, 'buffer').copy(k, 1, 0, 8); // a string is hashed as its UTF-8 bytes
  return k;
}

/** Index keys as stored in an entries row (NULL when none). */
export function encodeIndexKeys(keys: readonly string[]): string | null {
  return keys.length === 0 ? null : JSON.stringify(keys);
}

export function decodeIndexKeys(v: string | null): string[] {
  return v === null ? [] : (JSON.parse(v) as string[]);
}

interface Run {
  id: number;
  first: number;
  end: number;
  rows: number;
  bloom: Bloom;
}

class MemTable {
  readonly hashes = new Map<string, number>();
  /** Index key → its run key (hashed when first seen, so a flush only sorts) and its indexes. */
  readonly keys = new Map<string, { k: string; list: number[] }>();
  end: number;

  constructor(readonly first: number) {
    this.end = first;
  }

  get count(): number {
    return this.end - this.first;
  }

  add(index: number, leafHash: Uint8Array, keys: readonly string[]): void {
    if (index !== this.end) throw new SigilError('STORAGE_FAILURE', `lookup memtable expects ${this.end}`);
    this.hashes.set(Buffer.from(leafHash.buffer, leafHash.byteOffset, 32).toString('latin1'), index);
    for (const key of keys) {
      const e = this.keys.get(key);
      if (e === undefined) this.keys.set(key, { k: indexLookupKey(key).toString('latin1'), list: [index] });
      else if (e.list[e.list.length - 1] !== index) e.list.push(index);
    }
    this.end = index + 1;
  }

  /** All (k, idx) rows in key order, k as a latin1 string (byte order = string order). */
  sortedRows(): [string, number][] {
    const rows: [string, number][] = [];
    for (const [h, idx] of this.hashes) rows.push(['\x00' + h.slice(0, 8), idx]);
    for (const { k, list } of this.keys.values()) for (const idx of list) rows.push([k, idx]);
    rows.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
    return rows;
  }
}

/** Rows per INSERT statement when flushing (one statement call per row costs more than SQLite). */
const ROWS_PER_INSERT = 256;

interface FlushJob {
  id: number;
  put: Database.Statement;
  putMany: Database.Statement;
  mem: MemTable;
  rows: [string, number][];
  pos: number;
  bloom: Bloom;
}

interface MergeJob {
  id: number;
  sources: Run[];
  /** The source with the most rows: its row positions pace the steps. */
  pace: Run;
  cursor: [Buffer, number];
  paceStmt: Database.Statement;
  copyRange: Database.Statement;
  copyRest: Database.Statement;
  rows: number;
  bloom: Bloom;
  done: boolean;
}

type Db = Database.Database;

export class LookupIndex {
  private live: Run[] = [];
  private readonly garbage: number[] = [];
  private active: MemTable;
  private flush: FlushJob | undefined;
  private readonly merges: MergeJob[] = [];
  private nextRunId: number;
  private stale = false;
  private turn = 0;
  private readonly counts = { flushes: 0, merges: 0 };
  private readonly probes = new Map<number, Database.Statement>();
  private readonly stmt: ReturnType<LookupIndex['prepare']>;

  constructor(
    private readonly db: Db,
    readonly tuning: LookupTuning = DEFAULT_LOOKUP_TUNING,
  ) {
    this.stmt = this.prepare(db);
    const runs = db
      .prepare('SELECT id, first, end, rows, live, bloom FROM lookup_runs ORDER BY first, id')
      .all() as {
      id: number;
      first: number;
      end: number;
      rows: number;
      live: number;
      bloom: Buffer | null;
    }[];
    let covered = 0;
    let maxId = 0;
    for (const r of runs) {
      maxId = Math.max(maxId, r.id);
      if (r.live !== 1 || r.bloom === null) {
        this.garbage.push(r.id);
        continue;
      }
      if (r.first !== covered)
        throw new SigilError('STORAGE_FAILURE', `lookup runs do not cover entries ${covered}…${r.first}`);
      covered = r.end;
      this.live.push({ id: r.id, first: r.first, end: r.end, rows: r.rows, bloom: new Bloom(r.bloom) });
    }
    this.nextRunId = maxId + 1;
    this.active = new MemTable(covered);
    this.rebuildActive();
  }

  private prepare(db: Db) {
    return {
      tail: db.prepare('SELECT idx, leaf_hash, index_keys FROM entries WHERE idx >= ? ORDER BY idx').raw(),
      keysOf: db.prepare('SELECT index_keys FROM entries WHERE idx = ?').pluck(),
      newRun: db.prepare('INSERT INTO lookup_runs (id, first, end, rows, live) VALUES (?, ?, ?, 0, 0)'),
      goLive: db.prepare('UPDATE lookup_runs SET live = 1, rows = ?, bloom = ? WHERE id = ?'),
      kill: db.prepare('UPDATE lookup_runs SET live = 0, bloom = NULL WHERE id = ?'),
      dropRun: db.prepare('DELETE FROM lookup_runs WHERE id = ?'),
    };
  }

  private probe(run: number): Database.Statement {
    let p = this.probes.get(run);
    if (p === undefined) {
      p = this.db
        .prepare(`SELECT idx FROM ${runTable(run)} WHERE k = ? AND idx > ? ORDER BY idx LIMIT ?`)
        .pluck();
      this.probes.set(run, p);
    }
    return p;
  }

  private createRun(first: number, end: number): number {
    const id = this.nextRunId;
    this.db.transaction(() => {
      this.stmt.newRun.run(id, first, end);
      this.db.exec(
        `CREATE TABLE ${runTable(id)} (k BLOB NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (k, idx)) WITHOUT ROWID`,
      );
    })();
    this.nextRunId += 1;
    return id;
  }

  /** First entry index held by the memtables (the live runs cover all below). */
  private get memFirst(): number {
    return this.flush?.mem.first ?? this.active.first;
  }

  private rebuildActive(): void {
    const mem = new MemTable(this.active.first);
    for (const [idx, leafHash, keys] of this.stmt.tail.iterate(mem.first) as Iterable<
      [number, Buffer, string | null]
    >) {
      mem.add(idx, leafHash, decodeIndexKeys(keys));
    }
    this.active = mem;
    this.stale = false;
  }

  /** After a commit whose outcome is unknown: rebuild the memtable from the rows before use. */
  markStale(): void {
    this.stale = true;
  }

  private fresh(): void {
    if (this.stale) this.rebuildActive();
  }

  /** Call after the transaction holding `entries` committed. */
  added(entries: readonly NewEntry[]): void {
    if (this.stale) return;
    for (const e of entries) this.active.add(e.index, e.leafHash, e.indexKeys);
  }

  /**
   * Indexes that may hold `leafHash`: exact for the memtable, by 8-byte prefix for runs (the
   * caller compares the full hash).
   */
  candidates(leafHash: Buffer): number[] {
    this.fresh();
    const out: number[] = [];
    const h = leafHash.toString('latin1');
    for (const mem of [this.flush?.mem, this.active]) {
      const idx = mem?.hashes.get(h);
      if (idx !== undefined) out.push(idx);
    }
    let k: Buffer | undefined;
    for (const run of this.live) {
      if (!run.bloom.mightContain(leafHash)) continue;
      k ??= hashLookupKey(leafHash);
      for (const idx of this.probe(run.id).all(k, -1, MAX_CANDIDATES) as number[]) out.push(idx);
    }
    return out;
  }

  /** Indexes filed under `key`, ascending, at most `limit` (run matches confirmed on the entry row). */
  /** The lowest `limit` entry indexes carrying `key`, ascending (runs may cover interleaved ranges). */
  lookup(key: string, limit: number): number[] {
    this.fresh();
    const out: number[] = [];
    const k = indexLookupKey(key);
    for (const run of this.live) {
      let after = -1;
      let fromRun = 0;
      while (fromRun < limit) {
        const want = limit - fromRun;
        const found = this.probe(run.id).all(k, after, want) as number[];
        for (const idx of found) {
          const keys = this.stmt.keysOf.get(idx) as string | null | undefined;
          if (keys != null && decodeIndexKeys(keys).includes(key)) {
            out.push(idx);
            fromRun++;
          }
        }
        if (found.length < want) break;
        after = found[found.length - 1]!;
      }
    }
    for (const mem of [this.flush?.mem, this.active])
      out.push(...(mem?.keys.get(key)?.list ?? []).slice(0, limit));
    return [...new Set(out)].sort((a, b) => a - b).slice(0, limit);
  }

  /** Entries held in memory (the memtable and a memtable being flushed), not yet in live runs. */
  backlog(): number {
    return this.active.end - this.memFirst;
  }

  /** Whether a background step has something to do. */
  hasWork(): boolean {
    return (
      this.active.count >= this.tuning.flushAt ||
      this.flush !== undefined ||
      this.merges.length > 0 ||
      this.garbage.length > 0 ||
      this.mergeWindow() !== undefined
    );
  }

  /** Runs one background step. Memory changes only after its transaction committed. */
  step(): void {
    this.fresh();
    if (this.flush === undefined && this.active.count >= this.tuning.flushAt) return this.startFlush();
    const window = this.mergeWindow();
    if (window !== undefined) return this.startMerge(window);
    // Flush and merge steps alternate, so neither the memtable nor the run count grows unbounded.
    const merge = this.smallestMerge();
    if (this.flush !== undefined && (merge === undefined || this.turn++ % 2 === 0)) return this.flushStep();
    if (merge !== undefined) return this.mergeStep(merge);
    if (this.garbage.length > 0) this.gcStep();
  }

  private startFlush(): void {
    const mem = this.active;
    const id = this.createRun(mem.first, mem.end);
    const insert = `INSERT INTO ${runTable(id)} (k, idx) VALUES `;
    const put = this.db.prepare(insert + '(?, ?)');
    const putMany = this.db.prepare(
      insert + Array.from({ length: ROWS_PER_INSERT }, () => '(?, ?)').join(', '),
    );
    this.active = new MemTable(mem.end);
    const rows = mem.sortedRows();
    this.flush = { id, put, putMany, mem, rows, pos: 0, bloom: Bloom.forMembers(mem.count) };
  }

  private flushStep(): void {
    const job = this.flush!;
    const end = Math.min(job.rows.length, job.pos + this.tuning.stepRows);
    if (job.pos < end) {
      const params: (Buffer | number)[] = [];
      const keys: Buffer[] = [];
      for (let i = job.pos; i < end; i++) {
        const [k, idx] = job.rows[i]!;
        const kb = Buffer.from(k, 'latin1');
        keys.push(kb);
        params.push(kb, idx);
      }
      this.db.transaction(() => {
        const many = ROWS_PER_INSERT * 2;
        let at = 0;
        for (; at + many <= params.length; at += many) job.putMany.run(params.slice(at, at + many));
        for (; at < params.length; at += 2) job.put.run(params[at], params[at + 1]);
      })();
      for (const kb of keys) if (kb[0] === 0) job.bloom.add(kb, 1);
      job.pos = end;
      return;
    }
    this.stmt.goLive.run(job.rows.length, job.bloom.bits, job.id);
    const m = job.mem;
    this.live.push({ id: job.id, first: m.first, end: m.end, rows: job.rows.length, bloom: job.bloom });
    this.flush = undefined;
    this.counts.flushes += 1;
  }

  private level(run: Run): number {
    const ratio = Math.max(1, (run.end - run.first) / this.tuning.flushAt);
    return Math.floor(Math.log(ratio) / Math.log(this.tuning.fanout) + 1e-9);
  }

  /** The newest `fanout` adjacent live runs of one tier that no merge is working on. */
  private mergeWindow(): Run[] | undefined {
    const f = this.tuning.fanout;
    const busy = new Set(this.merges.flatMap((m) => m.sources.map((s) => s.id)));
    for (let i = this.live.length - f; i >= 0; i--) {
      const window = this.live.slice(i, i + f);
      const level = this.level(window[0]!);
      if (window.every((r) => !busy.has(r.id) && this.level(r) === level)) return window;
    }
    return undefined;
  }

  private smallestMerge(): MergeJob | undefined {
    let best: MergeJob | undefined;
    for (const m of this.merges) if (best === undefined || m.pace.rows < best.pace.rows) best = m;
    return best;
  }

  private startMerge(sources: Run[]): void {
    const id = this.createRun(sources[0]!.first, sources[sources.length - 1]!.end);
    const pace = sources.reduce((a, b) => (b.rows > a.rows ? b : a));
    const members = sources.reduce((n, r) => n + r.end - r.first, 0);
    const union = (upper: boolean): string =>
      sources
        .map(
          (r) =>
            `SELECT k, idx FROM ${runTable(r.id)} WHERE (k, idx) > (@ck, @ci)` +
            (upper ? ' AND (k, idx) <= (@bk, @bi)' : ''),
        )
        .join(' UNION ALL ');
    const copy = (upper: boolean): Database.Statement =>
      this.db
        .prepare(
          `INSERT INTO ${runTable(id)} (k, idx) SELECT k, idx FROM (${union(upper)}) ORDER BY k, idx RETURNING k`,
        )
        .pluck();
    this.merges.push({
      id,
      sources,
      pace,
      paceStmt: this.db
        .prepare(
          `SELECT k, idx FROM ${runTable(pace.id)} WHERE (k, idx) > (?, ?) ORDER BY k, idx LIMIT 1 OFFSET ?`,
        )
        .raw(),
      copyRange: copy(true),
      copyRest: copy(false),
      cursor: [Buffer.alloc(0), -1],
      rows: 0,
      bloom: Bloom.forMembers(members),
      done: false,
    });
  }

  private mergeStep(job: MergeJob): void {
    if (!job.done) {
      const total = job.sources.reduce((n, r) => n + r.rows, 0);
      const offset = Math.max(1, Math.floor((this.tuning.stepRows * job.pace.rows) / Math.max(1, total))) - 1;
      const [ck, ci] = job.cursor;
      let bound: [Buffer, number] | undefined;
      const ks = this.db.transaction(() => {
        bound = job.paceStmt.get(ck, ci, offset) as [Buffer, number] | undefined;
        return (
          bound === undefined
            ? job.copyRest.all({ ck, ci })
            : job.copyRange.all({ ck, ci, bk: bound[0], bi: bound[1] })
        ) as Buffer[];
      })();
      for (const k of ks) if (k[0] === 0) job.bloom.add(k, 1);
      job.rows += ks.length;
      if (bound === undefined) job.done = true;
      else job.cursor = bound;
      return;
    }
    this.db.transaction(() => {
      this.stmt.goLive.run(job.rows, job.bloom.bits, job.id);
      for (const r of job.sources) this.stmt.kill.run(r.id);
    })();
    const first = this.live.indexOf(job.sources[0]!);
    const run: Run = {
      id: job.id,
      first: job.sources[0]!.first,
      end: job.sources[job.sources.length - 1]!.end,
      rows: job.rows,
      bloom: job.bloom,
    };
    this.live.splice(first, job.sources.length, run);
    this.merges.splice(this.merges.indexOf(job), 1);
    for (const r of job.sources) this.garbage.push(r.id);
    this.counts.merges += 1;
  }

  private gcStep(): void {
    const id = this.garbage[0]!;
    this.probes.delete(id);
    this.db.transaction(() => {
      this.db.exec(`DROP TABLE IF EXISTS ${runTable(id)}`);
      this.stmt.dropRun.run(id);
    })();
    this.garbage.shift();
  }

  /** Figures for tests and benchmarks. */
  describe(): {
    runs: number;
    memtable: number;
    merging: number;
    garbage: number;
    flushing: boolean;
    idle: boolean;
    flushes: number;
    merges: number;
  } {
    return {
      ...this.counts,
      idle: !this.hasWork(),
      runs: this.live.length,
      memtable: this.active.end - this.memFirst,
      merging: this.merges.length,
      garbage: this.garbage.length,
      flushing: this.flush !== undefined,
    };
  }
}
