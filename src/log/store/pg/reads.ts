import type pg from 'pg';
import type { StoredEntry, TreeHead } from '../../types.js';
import { toEntry, type EntryRow } from '../rows.js';
import type { NodeId } from '../types.js';
import { byteaArray, int2Array, int8Array } from './binary.js';
import { indexKeyHash } from './schema.js';

interface HeadRow {
  size: number;
  root_hash: Buffer;
  ts: number;
  signed: string;
}

const ENTRY_COLUMNS = 'idx, leaf_hash, leaf, integrated_time';

/** The read queries of the PostgreSQL log, shared by the sequencer's store and the followers. */
export class PgReads {
  constructor(
    readonly pool: pg.Pool,
    /** A checked schema name (checkSchemaName). */
    readonly schema: string,
  ) {}

  async head(): Promise<TreeHead | undefined> {
    const r = await this.pool.query<HeadRow>(
      `SELECT size, root_hash, ts, signed FROM ${this.schema}.tree_head WHERE id = 1`,
    );
    const row = r.rows[0];
    return row && { size: row.size, rootHash: row.root_hash, timestamp: row.ts, signed: row.signed };
  }

  async getEntries(start: number, count: number): Promise<StoredEntry[]> {
    const r = await this.pool.query<EntryRow>({
      name: `${this.schema}.entries`,
      text: `SELECT ${ENTRY_COLUMNS} FROM ${this.schema}.entries WHERE idx >= $1 AND idx < $2 ORDER BY idx`,
      values: [start, start + count],
    });
    return r.rows.map(toEntry);
  }

  async findByLeafHashes(leafHashes: readonly Buffer[]): Promise<StoredEntry[]> {
    if (leafHashes.length === 0) return [];
    const r = await this.pool.query<EntryRow>(
      `SELECT ${ENTRY_COLUMNS} FROM ${this.schema}.entries WHERE leaf_hash = ANY($1::bytea[])`,
      [byteaArray(leafHashes)],
    );
    return r.rows.map(toEntry);
  }

  /** Index and integration time of the stored entries among `leafHashes`, without their bodies. */
  async locate(
    leafHashes: readonly Buffer[],
  ): Promise<{ index: number; leafHash: Buffer; integratedTime: number }[]> {
    if (leafHashes.length === 0) return [];
    const r = await this.pool.query<Omit<EntryRow, 'leaf'>>(
      `SELECT idx, leaf_hash, integrated_time FROM ${this.schema}.entries WHERE leaf_hash = ANY($1::bytea[])`,
      [byteaArray(leafHashes)],
    );
    return r.rows.map((x) => ({ index: x.idx, leafHash: x.leaf_hash, integratedTime: x.integrated_time }));
  }

  async lookupIndexKey(key: string, limit: number): Promise<number[]> {
    const r = await this.pool.query<{ idx: number }>(
      `SELECT idx FROM ${this.schema}.index_keys WHERE key_hash = $1 ORDER BY idx LIMIT $2`,
      [indexKeyHash(key), limit],
    );
    return r.rows.map((x) => x.idx);
  }

  async getNodeRange(level: number, start: number, count: number): Promise<Buffer[]> {
    const r =
      level === 0
        ? await this.pool.query<{ h: Buffer }>(
            `SELECT leaf_hash AS h FROM ${this.schema}.entries WHERE idx >= $1 AND idx < $2 ORDER BY idx`,
            [start, start + count],
          )
        : await this.pool.query<{ h: Buffer }>(
            `SELECT hash AS h FROM ${this.schema}.nodes WHERE level = $1 AND idx >= $2 AND idx < $3 ORDER BY idx`,
            [level, start, start + count],
          );
    return r.rows.map((x) => x.h);
  }

  /** All requested nodes in one round trip (leaves from `entries`, the rest from `nodes`). */
  async getNodes(nodes: readonly NodeId[]): Promise<(Buffer | undefined)[]> {
    if (nodes.length === 0) return [];
    // A named statement: parsed and planned once per connection (planning this join costs more
    // than running it), so a proof's nodes cost one round trip and a few index probes.
    const r = await this.pool.query<{ level: number; idx: number; h: Buffer }>({
      name: `${this.schema}.nodes`,
      text: `SELECT 0 AS level, e.idx, e.leaf_hash AS h FROM ${this.schema}.entries e
         WHERE e.idx = ANY($1::bigint[])
       UNION ALL
       SELECT n.level, n.idx, n.hash AS h FROM ${this.schema}.nodes n
         JOIN unnest($2::smallint[], $3::bigint[]) AS want(level, idx) ON n.level = want.level AND n.idx = want.idx`,
      values: [
        int8Array(nodes.filter((n) => n.level === 0).map((n) => n.index)),
        int2Array(nodes.filter((n) => n.level > 0).map((n) => n.level)),
        int8Array(nodes.filter((n) => n.level > 0).map((n) => n.index)),
      ],
    });
    const found = new Map(r.rows.map((x) => [`${x.level}/${x.idx}`, x.h]));
    return nodes.map((n) => found.get(`${n.level}/${n.index}`));
  }
}
