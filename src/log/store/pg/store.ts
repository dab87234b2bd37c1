import type pg from 'pg';
import { SigilError } from '../../../errors/index.js';
import type { StoredEntry } from '../../types.js';
import { byteaArray, int2Array, int8Array } from './binary.js';
import { connectClient, describeDatabaseUrl, newPool } from './connect.js';
import { PgReads } from './reads.js';
import {
  checkSchemaName,
  claimIdentity,
  DEFAULT_PG_SCHEMA,
  indexKeyHash,
  migrateSchema,
  readTreeId,
  type IdentityFact,
} from './schema.js';
import type { CommitBatch, LogStore, NodeId, StoreState } from '../types.js';

export { DEFAULT_PG_SCHEMA, type IdentityFact } from './schema.js';

export interface PostgresStoreOptions {
  /** postgres://user@host:port/db (credentials never appear in descriptions or errors). */
  databaseUrl: string;
  /** PostgreSQL schema holding this log's tables (default sigil_log). */
  schema?: string;
  /** Connections for reads (default 4). */
  poolSize?: number;
}

export const DEFAULT_PG_POOL_SIZE = 4;

/** Channel notified (payload: the new tree size) in every commit transaction. */
export function headChannel(schema: string): string {
  return `${schema}_head`;
}

/** Channel notified when a follower queued appends for the sequencer. */
export function pendingChannel(schema: string): string {
  return `${schema}_pending`;
}

/** `sigil log migrate`: creates the schema and the tree ID if absent; returns the tree ID. */
export async function migratePostgres(
  databaseUrl: string,
  schema = DEFAULT_PG_SCHEMA,
  identity: readonly IdentityFact[] = [],
): Promise<string> {
  const client = await connectClient(databaseUrl, 'sigil-log-migrate');
  try {
    const treeId = await migrateSchema(client, schema);
    await claimIdentity(client, schema, identity);
    return treeId;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Takes the sequencer lock of `schema` on `client`'s session (non-blocking). The lock is a
 * session-level advisory lock: it lasts exactly as long as that server session, so PostgreSQL
 * drops it when the holder's connection ends for any reason (close, crash, SIGKILL, network
 * loss detected by TCP keepalive, pg_terminate_backend).
 */
export async function tryAcquireSequencerLock(client: pg.ClientBase, schema: string): Promise<boolean> {
  const r = await client.query<{ ok: boolean }>(
    'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok',
    [`sigil-log:${checkSchemaName(schema)}`],
  );
  return r.rows[0]!.ok === true;
}

/**
 * Opens the PostgreSQL store as the log's one writer (the sequencer). LOCKED when another
 * process (on any host) holds the sequencer lock; STORAGE_FAILURE when the schema was never
 * migrated.
 */
export async function openPostgresStore(opts: PostgresStoreOptions): Promise<PostgresLogStore> {
  const schema = checkSchemaName(opts.schema ?? DEFAULT_PG_SCHEMA);
  const client = await connectClient(opts.databaseUrl, 'sigil-log-sequencer');
  try {
    const treeId = await readTreeId(client, schema);
    if (!(await tryAcquireSequencerLock(client, schema))) {
      throw new SigilError(
        'LOCKED',
        `another sequencer holds the log ${schema} at ${describeDatabaseUrl(opts.databaseUrl)}`,
      );
    }
    const pool = newPool(opts.databaseUrl, opts.poolSize ?? DEFAULT_PG_POOL_SIZE);
    return new PostgresLogStore(
      client,
      new PgReads(pool, schema),
      treeId,
      describeDatabaseUrl(opts.databaseUrl),
      true,
    );
  } catch (e) {
    await client.end().catch(() => undefined);
    throw e;
  }
}

/**
 * The PostgreSQL log store, for the replica that holds the sequencer lock.
 *
 * Durability: every connection runs with `synchronous_commit = on`, so `commitBatch` resolves
 * only after PostgreSQL has flushed the commit's WAL (a crash of this process, of PostgreSQL or
 * of its host loses nothing acknowledged, given the server's `fsync = on`, its default). One
 * batch is one transaction: entries, index keys, nodes and the tree head land together.
 *
 * Concurrency and fencing: the store is opened on a connection that holds the sequencer's
 * session advisory lock, and every commit runs on that same connection. If the session ends,
 * the lock is gone *and* so is the only connection this store could commit on, so a replica that
 * lost the lock cannot write even once more (no lease-expiry window to get wrong). In addition,
 * each commit locks the tree-head row (`SELECT … FOR UPDATE`) and refuses unless the stored size
 * equals `previousSize`, and `entries.idx` is the primary key: no index can be written twice.
 * Reads use a separate pool and see committed state only (READ COMMITTED), so never half a batch;
 * a read may see a newer tree than the caller's head, which the log core bounds by its head.
 */
export class PostgresLogStore implements LogStore {
  readonly description: string;
  private lostReason: SigilError | undefined;
  private readonly lostListeners: ((e: SigilError) => void)[] = [];
  private closed = false;

  constructor(
    private readonly client: pg.Client,
    readonly reads: PgReads,
    readonly treeId: string,
    target: string,
    private readonly ownsPool: boolean,
  ) {
    this.description = `postgres:${target} schema ${reads.schema}`;
    const lost = (why: string) => (e?: Error) =>
      this.markLost(
        new SigilError('STORAGE_FAILURE', `lost the sequencer session: ${why}${e ? `: ${e.message}` : ''}`),
      );
    client.on('error', lost('connection error'));
    client.on('end', lost('connection ended'));
  }

  private get s(): string {
    return this.reads.schema;
  }

  /** Why the sequencer session is gone (undefined while it holds the lock). */
  get lost(): SigilError | undefined {
    return this.lostReason;
  }

  /** Called once when the session holding the lock ends (not on close()). */
  onLost(listener: (e: SigilError) => void): void {
    this.lostListeners.push(listener);
  }

  private markLost(e: SigilError): void {
    if (this.lostReason !== undefined || this.closed) return;
    this.lostReason = e;
    for (const l of this.lostListeners) l(e);
  }

  async load(): Promise<StoreState> {
    return { treeId: this.treeId, treeHead: await this.reads.head() };
  }

  async commitBatch(batch: CommitBatch): Promise<void> {
    if (this.closed) throw new SigilError('STORAGE_FAILURE', 'log store is closed');
    if (this.lostReason) throw this.lostReason;
    const c = this.client;
    const s = this.s;
    try {
      await c.query('BEGIN');
      const r = await c.query<{ size: number }>(`SELECT size FROM ${s}.tree_head WHERE id = 1 FOR UPDATE`);
      const size = r.rows[0]?.size ?? 0;
      if (size !== batch.previousSize) {
        throw new SigilError(
          'STORAGE_FAILURE',
          `log store holds ${size} entries, batch expects ${batch.previousSize}`,
        );
      }
      let expected = batch.previousSize;
      for (const e of batch.entries) {
        if (e.index !== expected)
          throw new SigilError('STORAGE_FAILURE', `batch index ${e.index} is not ${expected}`);
        expected += 1;
      }
      const h = batch.treeHead;
      if (h.size !== expected)
        throw new SigilError('STORAGE_FAILURE', `tree head size ${h.size} is not ${expected}`);
      if (batch.entries.length > 0) {
        await c.query(
          `INSERT INTO ${s}.entries (idx, leaf_hash, leaf, integrated_time)
           SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[], $4::bigint[])`,
          [
            int8Array(batch.entries.map((e) => e.index)),
            byteaArray(batch.entries.map((e) => e.leafHash)),
            byteaArray(batch.entries.map((e) => e.leaf)),
            int8Array(batch.entries.map((e) => e.integratedTime)),
          ],
        );
        const keys = batch.entries.flatMap((e) => e.indexKeys.map((k) => [k, e.index] as const));
        if (keys.length > 0) {
          await c.query(
            `INSERT INTO ${s}.index_keys (key_hash, idx) SELECT * FROM unnest($1::bytea[], $2::bigint[]) ON CONFLICT DO NOTHING`,
            [byteaArray(keys.map((k) => indexKeyHash(k[0]))), int8Array(keys.map((k) => k[1]))],
          );
        }
      }
      if (batch.nodes.length > 0) {
        await c.query(
          `INSERT INTO ${s}.nodes (level, idx, hash) SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])`,
          [
            int2Array(batch.nodes.map((n) => n.level)),
            int8Array(batch.nodes.map((n) => n.index)),
            byteaArray(batch.nodes.map((n) => n.hash)),
          ],
        );
      }
      await c.query(
        `INSERT INTO ${s}.tree_head (id, size, root_hash, ts, signed) VALUES (1, $1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET size = excluded.size, root_hash = excluded.root_hash, ts = excluded.ts, signed = excluded.signed`,
        [h.size, h.rootHash, h.timestamp, h.signed],
      );
      await c.query('SELECT pg_notify($1, $2)', [headChannel(s), String(h.size)]);
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      if (e instanceof SigilError) throw e;
      throw new SigilError('STORAGE_FAILURE', `log store: commit failed: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  getEntries(start: number, count: number): Promise<StoredEntry[]> {
    return this.reads.getEntries(start, count);
  }

  findByLeafHashes(leafHashes: readonly Buffer[]): Promise<StoredEntry[]> {
    return this.reads.findByLeafHashes(leafHashes);
  }

  lookupIndexKey(key: string, limit: number): Promise<number[]> {
    return this.reads.lookupIndexKey(key, limit);
  }

  getNodeRange(level: number, start: number, count: number): Promise<Buffer[]> {
    return this.reads.getNodeRange(level, start, count);
  }

  getNodes(nodes: readonly NodeId[]): Promise<(Buffer | undefined)[]> {
    return this.reads.getNodes(nodes);
  }

  /** Ends the session (releasing the sequencer lock) and, if it owns it, the read pool. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client.end().catch(() => undefined);
    if (this.ownsPool) await this.reads.pool.end().catch(() => undefined);
  }
}
