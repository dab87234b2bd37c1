import type { StoredEntry } from '../types.js';

/** An `entries` row as both SQL drivers store it (same column names in SQLite and PostgreSQL). */
export interface EntryRow {
  idx: number;
  leaf_hash: Buffer;
  leaf: Buffer;
  integrated_time: number;
}

export function toEntry(r: EntryRow): StoredEntry {
  return { index: r.idx, leaf: r.leaf, leafHash: r.leaf_hash, integratedTime: r.integrated_time };
}
