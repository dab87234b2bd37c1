import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SigilError } from '../../../errors/index.js';
import type { StoredEntry, TreeHead } from '../../types.js';
import { toEntry, type EntryRow } from '../rows.js';
import {
  DEFAULT_LOOKUP_TUNING,
  encodeIndexKeys,
  LOOKUP_SCHEMA,
  LookupIndex,
  type LookupTuning,
} from './lookup-index.js';
import type { CommitBatch, LogStore, NodeId, StoreState } from '../types.js';

export interface SqliteStoreOptions {
  /** Data directory; the database is `<dir>/log.db`. */
  dir?: string;
  /** Explicit database file (instead of dir). */
  path?: string;
  /**
   * Run SQLite on a worker thread (default true), so commits and their fsyncs do not block the
   * event loop; false runs it on the calling thread (synchronous calls behind async methods).
   */
  worker?: boolean;
  /** Lookup-index tuning (tests use small values to exercise flushes and merges). */
  lookup?: Partial<LookupTuning>;
}

export const SQLITE_FILE_NAME = 'log.db';
const SCHEMA_VERSION = '2';
/** Memtables' worth of entries the lookup index may fall behind before commits wait for it. */
const BACKLOG_FLUSHES = 16;

/**
 * The SQLite log store (better-sqlite3, one connection, synchronous calls behind async methods).
 *
 * Durability: WAL journal with `synchronous = FULL`, so the WAL is fsynced at every commit and a
 * resolved `commitBatch` survives a crash of the process or a power loss. One batch is one
 * transaction: entries (each row holding its leaf hash and index keys), tree nodes and the
 * signed tree head land together or not at all, so after any crash the stored tree head
 * describes exactly the stored entries. A commit writes only append-ordered rows (entries by
 * index, nodes by level and index, the one tree-head row): no B-tree keyed by a random value is
 * touched on the commit path, so a commit dirties few pages however large the log grows.
 *
 * Lookups (leaf hash → entry for duplicate detection, index key → indexes for search) are
 * derived data, kept by lookup-index.ts: a memtable of the newest entries plus sorted runs
 * merged in the background. Background steps run between requests, each its own small
 * transaction committed with `synchronous = NORMAL`: it is not fsynced itself, but the next
 * FULL commit fsyncs the WAL through it, and losing it in a crash loses only derived data that
 * the open rebuilds (the memtable from the entries rows above the live runs; a half-built run
 * is dropped). Lookups consult the memtable and the live runs and confirm every match against
 * the entry row, so they are exact at every moment, including right after a crash. The store
 * also refuses (STORAGE_FAILURE) a batch whose leaf hash is already stored.
 *
 * Concurrency: the connection uses `locking_mode = EXCLUSIVE` and takes the write lock when it
 * opens, keeping it until close. The lock is a POSIX advisory (fcntl) lock that the OS drops
 * when the process dies, so a SIGKILLed writer never leaves the directory locked. A second
 * process (or a second store in the same process) opening the same file is refused with
 * SigilError LOCKED before it reads or writes anything. All reads and background steps go
 * through the same connection; because calls are synchronous underneath, a read never
 * observes half a batch or half a step. By default the connection lives on a worker thread
 * (worker-client.ts), so a commit and its fsync run beside the event loop; requests to the
 * worker are answered in order, and a batch's bytes cross to it in one transferred buffer.
 */
export async function openSqliteStore(opts: SqliteStoreOptions): Promise<LogStore> {
  let path: string;
  if (opts.path !== undefined) path = opts.path;
  else if (opts.dir !== undefined) {
    mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
    path = join(opts.dir, SQLITE_FILE_NAME);
  } else throw new SigilError('INVALID_INPUT', 'openSqliteStore needs dir or path');
  const tuning = { ...DEFAULT_LOOKUP_TUNING, ...opts.lookup };
  if (opts.worker === false) return new SqliteLogStore(path, tuning);
  const { openWorkerStore } = await import('./worker-client.js');
  return openWorkerStore(path, tuning);
}

interface HeadRow {
  size: number;
  root_hash: Buffer;
  timestamp: number;
  signed: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tree_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  size INTEGER NOT NULL,
  root_hash BLOB NOT NULL,
  timestamp INTEGER NOT NULL,
  signed TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS entries (
  idx INTEGER PRIMARY KEY,
  leaf_hash BLOB NOT NULL,
  integrated_time INTEGER NOT NULL,
  index_keys TEXT,
  leaf BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS nodes (
  level INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  hash BLOB NOT NULL,
  PRIMARY KEY (level, idx)
) WITHOUT ROWID;
${LOOKUP_SCHEMA}`;

/**
 * Schema 1 kept a UNIQUE index on leaf_hash and an index_keys table, both written at random
 * places on every commit. Moves their content into the entries rows; the lookup runs are then
 * built in the background from the memtable, which the open fills from those rows.
 */
const MIGRATE_1_TO_2 = `
CREATE TABLE entries_v2 (
  idx INTEGER PRIMARY KEY,
  leaf_hash BLOB NOT NULL,
  integrated_time INTEGER NOT NULL,
  index_keys TEXT,
  leaf BLOB NOT NULL
);
INSERT INTO entries_v2 (idx, leaf_hash, integrated_time, index_keys, leaf)
  SELECT e.idx, e.leaf_hash, e.integrated_time,
    (SELECT json_group_array(key) FROM (SELECT key FROM index_keys k WHERE k.idx = e.idx ORDER BY key)
      HAVING count(*) > 0),
    e.leaf
  FROM entries e ORDER BY e.idx;
DROP TABLE entries;
DROP TABLE index_keys;
ALTER TABLE entries_v2 RENAME TO entries;
UPDATE meta SET value = '2' WHERE key = 'schema';
`;

function isBusy(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

function storageError(what: string, e: unknown): SigilError {
  if (e instanceof SigilError) return e;
  const detail = e instanceof Error ? e.message : String(e);
  return new SigilError('STORAGE_FAILURE', `log store: ${what}: ${detail}`, { cause: e });
}

function newTreeId(): string {
  for (;;) {
    const id = randomBytes(8).readBigUInt64BE() & 0x7fff_ffff_ffff_ffffn;
    if (id !== 0n) return id.toString();
  }
}

/** The store on the calling thread; the worker thread runs this same class. */
export class SqliteLogStore implements LogStore {
  readonly description: string;
  /** Commits apply in call order (synchronous underneath) and refuse stored leaf hashes. */
  readonly pipelinedCommits = true;
  private db: Database.Database | undefined;
  private readonly stmt: ReturnType<SqliteLogStore['prepare']>;
  private readonly index: LookupIndex;
  /** Memtable entries past which a commit catches the lookup index up itself. */
  private readonly backlogLimit: number;
  private maintenance: NodeJS.Immediate | NodeJS.Timeout | undefined;
  /** The last background step's failure (the step is retried; lookups stay exact meanwhile). */
  maintenanceError: unknown;

  constructor(path: string, tuning: LookupTuning = DEFAULT_LOOKUP_TUNING) {
    this.description = `sqlite:${path}`;
    let db: Database.Database;
    try {
      db = new Database(path, { timeout: 0 });
    } catch (e) {
      throw storageError(`cannot open ${path}`, e);
    }
    try {
      db.pragma('locking_mode = EXCLUSIVE');
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new Error(`journal_mode is ${String(mode)}, not wal`);
      db.pragma('synchronous = FULL');
      db.pragma('cache_size = -32768');
      db.pragma('journal_size_limit = 67108864');
      // Taking the write lock now (and keeping it: EXCLUSIVE mode) refuses any other writer.
      db.exec('BEGIN IMMEDIATE');
      db.exec(SCHEMA);
      const version = db.prepare('SELECT value FROM meta WHERE key = ?').pluck().get('schema') as
        string | undefined;
      if (version === undefined) {
        db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('schema', SCHEMA_VERSION);
        db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('tree_id', newTreeId());
      } else if (version === '1') {
        db.exec(MIGRATE_1_TO_2);
      } else if (version !== SCHEMA_VERSION) {
        throw new SigilError(
          'STORAGE_FAILURE',
          `log store ${path} has schema ${version}, expected ${SCHEMA_VERSION}`,
        );
      }
      db.exec('COMMIT');
      this.index = new LookupIndex(db, tuning);
      this.backlogLimit = BACKLOG_FLUSHES * tuning.flushAt;
    } catch (e) {
      try {
        db.close();
      } catch {
        // already failing; the original error matters
      }
      if (isBusy(e)) {
        throw new SigilError('LOCKED', `log database ${path} is in use by another process`, { cause: e });
      }
      throw storageError(`cannot initialize ${path}`, e);
    }
    this.db = db;
    this.stmt = this.prepare(db);
    this.kick();
  }

  private prepare(db: Database.Database) {
    return {
      treeId: db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
      head: db.prepare('SELECT size, root_hash, timestamp, signed FROM tree_head WHERE id = 1'),
      headSize: db.prepare('SELECT size FROM tree_head WHERE id = 1').pluck(),
      putHead: db.prepare(
        'INSERT INTO tree_head (id, size, root_hash, timestamp, signed) VALUES (1, ?, ?, ?, ?) ' +
          'ON CONFLICT (id) DO UPDATE SET size = excluded.size, root_hash = excluded.root_hash, ' +
          'timestamp = excluded.timestamp, signed = excluded.signed',
      ),
      putEntry: db.prepare(
        'INSERT INTO entries (idx, leaf_hash, leaf, integrated_time, index_keys) VALUES (?, ?, ?, ?, ?)',
      ),
      putNode: db.prepare('INSERT INTO nodes (level, idx, hash) VALUES (?, ?, ?)'),
      entries: db.prepare(
        'SELECT idx, leaf_hash, leaf, integrated_time FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx',
      ),
      entry: db.prepare('SELECT idx, leaf_hash, leaf, integrated_time FROM entries WHERE idx = ?'),
      leafRange: db.prepare('SELECT leaf_hash FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx').pluck(),
      nodeRange: db
        .prepare('SELECT hash FROM nodes WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx')
        .pluck(),
      leaf: db.prepare('SELECT leaf_hash FROM entries WHERE idx = ?').pluck(),
      node: db.prepare('SELECT hash FROM nodes WHERE level = ? AND idx = ?').pluck(),
    };
  }

  private open(): Database.Database {
    if (this.db === undefined) throw new SigilError('STORAGE_FAILURE', 'log store is closed');
    return this.db;
  }

  async load(): Promise<StoreState> {
    this.open();
    const treeId = this.stmt.treeId.get('tree_id') as string | undefined;
    if (treeId === undefined) throw new SigilError('STORAGE_FAILURE', 'log store has no tree ID');
    const row = this.stmt.head.get() as HeadRow | undefined;
    const treeHead: TreeHead | undefined =
      row === undefined
        ? undefined
        : { size: row.size, rootHash: row.root_hash, timestamp: row.timestamp, signed: row.signed };
    return { treeId, treeHead };
  }

  async commitBatch(batch: CommitBatch): Promise<void> {
    const db = this.open();
    const s = this.stmt;
    try {
      db.transaction(() => {
        const size = (s.headSize.get() as number | undefined) ?? 0;
        if (size !== batch.previousSize) {
          throw new SigilError(
            'STORAGE_FAILURE',
            `log store holds ${size} entries, batch expects ${batch.previousSize}`,
          );
        }
        let expected = batch.previousSize;
        const inBatch = new Set<string>();
        for (const e of batch.entries) {
          if (e.index !== expected)
            throw new SigilError('STORAGE_FAILURE', `batch index ${e.index} is not ${expected}`);
          expected += 1;
          // The leaf hash is unique in the log: the store checks it too, not only the core.
          const h = e.leafHash.toString('latin1');
          if (inBatch.has(h) || this.findStored(e.leafHash) !== undefined)
            throw new SigilError('DUPLICATE_ENTRY', `leaf hash of entry ${e.index} is already stored`);
          inBatch.add(h);
          s.putEntry.run(e.index, e.leafHash, e.leaf, e.integratedTime, encodeIndexKeys(e.indexKeys));
        }
        for (const n of batch.nodes) s.putNode.run(n.level, n.index, n.hash);
        const h = batch.treeHead;
        if (h.size !== expected)
          throw new SigilError('STORAGE_FAILURE', `tree head size ${h.size} is not ${expected}`);
        s.putHead.run(h.size, h.rootHash, h.timestamp, h.signed);
      }).immediate();
    } catch (e) {
      // Whether a failed COMMIT reached the disk is unknown: rebuild the memtable from the rows.
      this.index.markStale();
      throw storageError('commit failed', e);
    }
    this.index.added(batch.entries);
    // Background steps run between requests; under sustained commits they can fall behind and
    // the memtable would grow without bound. Past the limit, the commit runs steps itself until
    // the backlog is back under it (a write stall, as LSM stores do), bounding memory and the
    // memtable a reopen has to rebuild.
    if (this.index.backlog() > this.backlogLimit)
      this.maintain(() => this.index.backlog() > this.backlogLimit);
    this.kick();
  }

  private findStored(leafHash: Buffer): EntryRow | undefined {
    for (const idx of this.index.candidates(leafHash)) {
      const row = this.stmt.entry.get(idx) as EntryRow | undefined;
      if (row !== undefined && row.leaf_hash.equals(leafHash)) return row;
    }
    return undefined;
  }

  /** Schedules one background lookup-index step after the current request (see lookup-index.ts). */
  private kick(delay = 0): void {
    if (this.maintenance !== undefined || this.db === undefined || !this.index.hasWork()) return;
    const run = (): void => {
      this.maintenance = undefined;
      this.maintain();
    };
    this.maintenance = delay > 0 ? setTimeout(run, delay) : setImmediate(run);
    this.maintenance.unref();
  }

  /** One background step, or steps while `more()` holds and there is work. */
  private maintain(more: () => boolean = () => false): void {
    const db = this.db;
    if (db === undefined) return;
    try {
      // The step's commit need not be synced itself: the next synced commit syncs the WAL up
      // to and including it, and losing it in a crash loses only derived lookup data.
      db.pragma('synchronous = NORMAL');
      do this.index.step();
      while (more() && this.index.hasWork());
      this.maintenanceError = undefined;
    } catch (e) {
      this.maintenanceError = e;
      this.kick(1000);
      return;
    } finally {
      db.pragma('synchronous = FULL');
    }
    this.kick();
  }

  /** Lookup-index figures (runs, memtable size, merges in progress). */
  lookupStats(): ReturnType<LookupIndex['describe']> {
    return this.index.describe();
  }

  async getEntries(start: number, count: number): Promise<StoredEntry[]> {
    this.open();
    return (this.stmt.entries.all(start, start + count) as EntryRow[]).map(toEntry);
  }

  async findByLeafHashes(leafHashes: readonly Buffer[]): Promise<StoredEntry[]> {
    this.open();
    const out: StoredEntry[] = [];
    for (const h of leafHashes) {
      const row = this.findStored(h);
      if (row !== undefined) out.push(toEntry(row));
    }
    return out;
  }

  async lookupIndexKey(key: string, limit: number): Promise<number[]> {
    this.open();
    return this.index.lookup(key, limit);
  }

  async getNodeRange(level: number, start: number, count: number): Promise<Buffer[]> {
    this.open();
    const end = start + count;
    return (
      level === 0 ? this.stmt.leafRange.all(start, end) : this.stmt.nodeRange.all(level, start, end)
    ) as Buffer[];
  }

  async getNodes(nodes: readonly NodeId[]): Promise<(Buffer | undefined)[]> {
    this.open();
    return nodes.map(
      (n) =>
        (n.level === 0 ? this.stmt.leaf.get(n.index) : this.stmt.node.get(n.level, n.index)) as
          Buffer | undefined,
    );
  }

  async close(): Promise<void> {
    const db = this.db;
    this.db = undefined;
    if (this.maintenance !== undefined) {
      clearTimeout(this.maintenance as NodeJS.Timeout);
      clearImmediate(this.maintenance as NodeJS.Immediate);
      this.maintenance = undefined;
    }
    db?.close();
  }
}
