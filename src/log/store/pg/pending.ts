import type pg from 'pg';
import { byteaArray, int8Array, textArray } from './binary.js';

export interface PendingRow {
  id: number;
  leaf: Buffer;
  index_keys: string;
}

/**
 * The `pending` queue through which replicas that do not sequence hand appends to the sequencer.
 *
 * Its writes commit with synchronous_commit off, on purpose: a queue row is not an
 * acknowledgment. A forwarding replica answers its client only once the entry is in `entries`
 * under a tree head, which the sequencer commits synchronously (and that flush also covers every
 * earlier WAL record, the queue row's included). A queue row lost in a crash is an append that
 * was never acknowledged (its client times out and retries); a lost delete re-integrates rows that
 * are then found as duplicates of their stored entries.
 */
export class PendingQueue {
  constructor(
    private readonly pool: pg.Pool,
    private readonly schema: string,
    private readonly channel: string,
  ) {}

  private async unsynced<T extends pg.QueryResultRow>(
    text: string,
    values: unknown[],
  ): Promise<pg.QueryResult<T>> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN; SET LOCAL synchronous_commit = off');
      const r = await c.query<T>(text, values);
      await c.query('COMMIT');
      return r;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  }

  /** Queues appends (skipping leaf hashes already queued) and wakes the sequencer; returns the hashes it queued. */
  async add(
    items: readonly { leafHash: Buffer; leaf: Buffer; indexKeys: readonly string[] }[],
  ): Promise<Buffer[]> {
    if (items.length === 0) return [];
    const s = this.schema;
    const r = await this.unsynced<{ leaf_hash: Buffer }>(
      `WITH ins AS (
         INSERT INTO ${s}.pending (leaf_hash, leaf, index_keys)
         SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::text[])
         ON CONFLICT (leaf_hash) DO NOTHING RETURNING leaf_hash)
       SELECT leaf_hash, pg_notify($4, '') FROM ins`,
      [
        byteaArray(items.map((o) => o.leafHash)),
        byteaArray(items.map((o) => o.leaf)),
        textArray(items.map((o) => JSON.stringify(o.indexKeys))),
        this.channel,
      ],
    );
    return r.rows.map((row) => row.leaf_hash);
  }

  /**
   * The oldest queued appends other than `skip` (the ones the caller is integrating). Not "ids
   * above the last one seen": ids are drawn when a row is inserted, not when it commits, so a
   * transaction holding lower ids can commit after a higher id was read.
   */
  async next(skip: readonly number[], limit: number): Promise<PendingRow[]> {
    const r = await this.pool.query<PendingRow>(
      `SELECT id, leaf, index_keys FROM ${this.schema}.pending WHERE NOT (id = ANY($1::bigint[])) ORDER BY id LIMIT $2`,
      [int8Array(skip), limit],
    );
    return r.rows;
  }

  async delete(ids: readonly number[]): Promise<void> {
    if (ids.length > 0)
      await this.unsynced(`DELETE FROM ${this.schema}.pending WHERE id = ANY($1::bigint[])`, [
        int8Array(ids),
      ]);
  }
}
