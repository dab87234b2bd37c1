import type pg from 'pg';
import { SigilError } from '../errors/index.js';
import {
  createLog,
  DEFAULT_MAX_BATCH,
  DEFAULT_MAX_PENDING,
  type Log,
  type LogConfig,
  type LogStats,
} from './core.js';
import { checkAppend } from './limits.js';
import type { AppendOptions, AppendResult, StoredEntry, TreeHead, TreeHeadSigner } from './types.js';
import {
  headChannel,
  pendingChannel,
  PostgresLogStore,
  tryAcquireSequencerLock,
  DEFAULT_PG_POOL_SIZE,
} from './store/pg/store.js';
import { connectClient, describeDatabaseUrl, newPool } from './store/pg/connect.js';
import { Forwarder } from './forwarder.js';
import { TreeReader } from './reader.js';
import { PendingQueue } from './store/pg/pending.js';
import { PendingPump } from './pump.js';
import { PgReads } from './store/pg/reads.js';
import {
  checkSchemaName,
  claimIdentity,
  DEFAULT_PG_SCHEMA,
  readTreeId,
  type IdentityFact,
} from './store/pg/schema.js';

export const DEFAULT_LOCK_RETRY_MS = 500;
export const DEFAULT_POLL_MS = 1000;
export const DEFAULT_APPEND_TIMEOUT_MS = 30_000;
const OPEN_WAIT_MS = 30_000;
/** Tree nodes a follower keeps (they never change; a proof needs about 2 log2(size)). */
const NODE_CACHE_LIMIT = 200_000;

export interface ReplicatedLogConfig {
  databaseUrl: string;
  /** PostgreSQL schema of the log (default sigil_log); `sigil log migrate` must have created it. */
  schema?: string;
  /** The personality's tree-head signer, for the tree ID stored in the database. */
  signerFor(treeId: string): TreeHeadSigner;
  /** The personality's attestations, made while the sequencer commits (see LogConfig.attest). */
  attest?: LogConfig['attest'];
  /** What names the log (the personality's key ID, checkpoint name): recorded once, then checked at open. */
  identity?: readonly IdentityFact[];
  /** false: this replica never sequences (it still accepts appends and serves reads). */
  sequence?: boolean;
  poolSize?: number;
  /** How often a replica that is not the sequencer tries to take the lock. */
  lockRetryMs?: number;
  /** Fallback poll of the tree head and the pending queue (notifications are the fast path). */
  pollMs?: number;
  /** A forwarded append not integrated within this time is answered UNAVAILABLE (it stays queued). */
  appendTimeoutMs?: number;
  maxBatch?: number;
  maxPending?: number;
  now?: () => number;
}

export interface ReplicatedLog extends Log {
  role(): 'sequencer' | 'follower';
}

/**
 * One replica of a log kept in PostgreSQL. Every replica accepts appends and serves reads; at most
 * one — the holder of the session advisory lock, see PostgresLogStore — sequences.
 *
 * Why this shape: the log core keeps the tree's recent nodes in memory and assumes it is the only
 * writer, which is what makes batching fast. So rather than letting every replica write the tree
 * (each would have to re-read it under a row lock per batch), a replica that is not the
 * sequencer *queues* its appends in the `pending` table — one multi-row INSERT per
 * batch and a NOTIFY — and the sequencer integrates them through its log core, exactly as its own
 * appends, then deletes them. The forwarding replica answers its client only once the entry is in
 * `entries` under a tree head (it learns of new heads by LISTEN, with a polling fallback), with an
 * inclusion proof it computes from the stored nodes. So the acknowledgment rule is the same on
 * every replica: acknowledged ⇒ committed in the tree with synchronous_commit.
 *
 * Failover: replicas that are not the sequencer try the lock every `lockRetryMs`. When the
 * sequencer's session ends (process killed, connection lost), PostgreSQL drops its lock; the next
 * replica to take it opens a log core over the stored tree (re-checking the root against the
 * stored tree head) and drains `pending`, so appends queued during the gap are integrated, not
 * lost. A sequencer whose session ends stops at once: its store can only commit on that session.
 * Indexes cannot repeat: `entries.idx` is the primary key and every commit checks the stored size
 * under a row lock. A queued leaf already integrated (a retry after a crash between commit and
 * delete) is a duplicate and is not appended twice.
 */
export async function openReplicatedLog(config: ReplicatedLogConfig): Promise<ReplicatedLog> {
  const r = new Replica(config);
  try {
    await r.open();
  } catch (e) {
    await r.close().catch(() => undefined);
    throw e;
  }
  return r;
}

class Replica implements ReplicatedLog {
  treeId = '';
  private readonly schema: string;
  private readonly pool: pg.Pool;
  private readonly reads: PgReads;
  private readonly follower: TreeReader;
  private readonly queueTable: PendingQueue;
  private head: TreeHead | undefined;
  private core: Log | undefined;
  private listener: pg.Client | undefined;
  private candidate: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private promoting = false;
  private readonly forwarder: Forwarder;
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;
  private readonly pump: PendingPump;

  constructor(private readonly config: ReplicatedLogConfig) {
    this.schema = checkSchemaName(config.schema ?? DEFAULT_PG_SCHEMA);
    this.pool = newPool(config.databaseUrl, config.poolSize ?? DEFAULT_PG_POOL_SIZE);
    this.reads = new PgReads(this.pool, this.schema);
    this.follower = new TreeReader({
      reads: this.reads,
      head: () => this.knownHead(),
      coldLimit: NODE_CACHE_LIMIT,
    });
    this.queueTable = new PendingQueue(this.pool, this.schema, pendingChannel(this.schema));
    this.forwarder = new Forwarder({
      reads: this.reads,
      queue: this.queueTable,
      reader: this.follower,
      maxPending: config.maxPending ?? DEFAULT_MAX_PENDING,
      appendTimeoutMs: config.appendTimeoutMs ?? DEFAULT_APPEND_TIMEOUT_MS,
      closed: () => this.closed,
      queued: () => this.refresh(),
    });
    this.pump = new PendingPump({
      queue: this.queueTable,
      core: () => this.core,
      closed: () => this.closed,
    });
  }

  async open(): Promise<void> {
    this.treeId = await readTreeId(this.pool, this.schema);
    await claimIdentity(this.pool, this.schema, this.config.identity ?? []);
    await this.listen();
    if (this.config.sequence !== false) await this.tryPromote();
    const deadline = Date.now() + OPEN_WAIT_MS;
    while (this.core === undefined && (this.head = await this.reads.head()) === undefined) {
      if (Date.now() > deadline) {
        throw new SigilError(
          'UNAVAILABLE',
          `no sequencer has initialized the log at ${describeDatabaseUrl(this.config.databaseUrl)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    const every = Math.min(
      this.config.lockRetryMs ?? DEFAULT_LOCK_RETRY_MS,
      this.config.pollMs ?? DEFAULT_POLL_MS,
    );
    let last = 0;
    this.timer = setInterval(() => {
      if (this.config.sequence !== false && this.core === undefined) void this.tryPromote();
      if (this.listener === undefined) void this.listen().catch(() => undefined);
      const now = Date.now();
      if (now - last >= (this.config.pollMs ?? DEFAULT_POLL_MS)) {
        last = now;
        this.refresh();
        this.pump.run();
      }
      this.forwarder.expire(now);
    }, every);
    this.timer.unref();
  }

  role(): 'sequencer' | 'follower' {
    return this.core ? 'sequencer' : 'follower';
  }

  private async listen(): Promise<void> {
    const c = await connectClient(this.config.databaseUrl, 'sigil-log-listen');
    c.on('notification', (n) => {
      if (n.channel === headChannel(this.schema)) this.refresh();
      else if (n.channel === pendingChannel(this.schema)) this.pump.run();
    });
    const drop = (): void => {
      if (this.listener === c) this.listener = undefined;
    };
    c.on('error', drop);
    c.on('end', drop);
    await c.query(`LISTEN ${headChannel(this.schema)}`);
    await c.query(`LISTEN ${pendingChannel(this.schema)}`);
    if (this.closed) await c.end();
    else this.listener = c;
  }

  /** Takes the sequencer lock if it is free and starts a log core over the stored tree. */
  private async tryPromote(): Promise<void> {
    if (this.promoting || this.core || this.closed) return;
    this.promoting = true;
    try {
      if (!this.candidate) {
        const fresh = await connectClient(this.config.databaseUrl, 'sigil-log-sequencer');
        fresh.on('error', () => {
          if (this.candidate === fresh) this.candidate = undefined;
        });
        this.candidate = fresh;
      }
      const client = this.candidate;
      if (!(await tryAcquireSequencerLock(client, this.schema))) return;
      this.candidate = undefined;
      const store = new PostgresLogStore(
        client,
        this.reads,
        this.treeId,
        describeDatabaseUrl(this.config.databaseUrl),
        false,
      );
      let core: Log;
      try {
        core = await createLog({
          store,
          signTreeHead: this.config.signerFor(this.treeId),
          maxBatch: this.config.maxBatch ?? DEFAULT_MAX_BATCH,
          maxPending: this.config.maxPending ?? DEFAULT_MAX_PENDING,
          ...(this.config.attest ? { attest: this.config.attest } : {}),
          ...(this.config.now ? { now: this.config.now } : {}),
        });
      } catch (e) {
        await store.close();
        throw e;
      }
      if (this.closed || store.lost) {
        await core.close().catch(() => undefined);
        return;
      }
      store.onLost(() => this.demote());
      this.core = core;
      this.head = core.latestTreeHead();
      this.pump.reset();
      this.pump.run();
    } catch {
      const c = this.candidate;
      this.candidate = undefined;
      await c?.end().catch(() => undefined);
    } finally {
      this.promoting = false;
    }
  }

  /** The lock's session ended: stop sequencing now; queued appends of the core fail unacknowledged. */
  private demote(): void {
    const core = this.core;
    this.core = undefined;
    void core?.close().catch(() => undefined);
  }

  /**
   * On the sequencer every read goes to its core, which serves sizes up to its own head; the head
   * read back from the database can be a batch ahead of it (the commit's notification arrives
   * before the core's commit call returns), so the core's head is the one to advertise.
   */
  latestTreeHead(): TreeHead {
    return this.core ? this.core.latestTreeHead() : this.knownHead();
  }

  /** The newest head known, the core's or the database's: it bounds reads of the database itself. */
  private knownHead(): TreeHead {
    const c = this.core?.latestTreeHead();
    const h = this.head;
    if (c && (!h || c.size >= h.size)) return c;
    if (!h) throw new SigilError('UNAVAILABLE', 'the log has no tree head yet');
    return h;
  }

  append(leaf: Buffer, opts?: AppendOptions): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new SigilError('UNAVAILABLE', 'log is shutting down'));
    if (this.core) return this.core.append(leaf, opts);
    const bad = checkAppend(leaf, opts);
    if (bad) return Promise.reject(bad);
    return this.forwarder.add(leaf, opts);
  }

  /** Re-reads the tree head and answers the waiters whose entries it now covers (coalesced). */
  private refresh(): void {
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    this.refreshing = (async () => {
      do {
        this.refreshAgain = false;
        try {
          const h = await this.reads.head();
          if (h && (!this.head || h.size >= this.head.size)) this.head = h;
          await this.forwarder.answer(this.knownHead());
        } catch {
          // the database is unreachable: the next notification or poll retries
        }
      } while (this.refreshAgain && !this.closed);
    })().finally(() => {
      this.refreshing = undefined;
    });
  }

  getEntry(index: number): Promise<StoredEntry | undefined> {
    return this.core ? this.core.getEntry(index) : this.follower.getEntry(index);
  }

  getEntries(start: number, count: number): Promise<StoredEntry[]> {
    return this.core ? this.core.getEntries(start, count) : this.follower.getEntries(start, count);
  }

  findByLeafHash(hash: Buffer): Promise<StoredEntry | undefined> {
    return this.core ? this.core.findByLeafHash(hash) : this.follower.findByLeafHash(hash);
  }

  lookupIndexKey(key: string, limit?: number): Promise<number[]> {
    return this.core ? this.core.lookupIndexKey(key, limit) : this.follower.lookupIndexKey(key, limit);
  }

  rootAt(size: number): Promise<Buffer> {
    return this.core ? this.core.rootAt(size) : this.follower.rootAt(size);
  }

  inclusionProof(index: number, treeSize: number): Promise<Buffer[]> {
    return this.core
      ? this.core.inclusionProof(index, treeSize)
      : this.follower.inclusionProof(index, treeSize);
  }

  consistencyProof(first: number, second: number): Promise<Buffer[]> {
    return this.core
      ? this.core.consistencyProof(first, second)
      : this.follower.consistencyProof(first, second);
  }

  stats(): LogStats & { role: 'sequencer' | 'follower'; forwarded: number } {
    const base: LogStats = this.core?.stats() ?? {
      commits: 0,
      failedCommits: 0,
      appended: 0,
      duplicates: 0,
      pending: 0,
      largestBatch: 0,
    };
    return {
      ...base,
      duplicates: base.duplicates + this.forwarder.counters.duplicates,
      pending: base.pending + this.forwarder.pending(),
      role: this.role(),
      forwarded: this.forwarder.counters.forwarded,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    const err = new SigilError('UNAVAILABLE', 'log is shutting down');
    this.forwarder.rejectAll(err);
    const core = this.core;
    this.core = undefined;
    await core?.close().catch(() => undefined);
    await this.refreshing?.catch(() => undefined);
    await this.listener?.end().catch(() => undefined);
    await this.candidate?.end().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }
}
