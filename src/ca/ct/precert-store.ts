import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

/**
 * Keeps each CT entry's PrecertChainEntry (get-entries `extra_data`) beside the log, which
 * stores only leaves. Writes are batched into one transaction per event-loop turn and follow
 * the leaf's commit: after a crash an entry may lack its extra data (get-entries then answers
 * it empty); the Merkle tree itself never depends on this table.
 */
export interface PrecertStore {
  put(index: number, extraData: Buffer): void;
  get(indexes: readonly number[]): Map<number, Buffer>;
  close(): void;
}

export function openPrecertStore(path: string): PrecertStore {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE IF NOT EXISTS extra (idx INTEGER PRIMARY KEY, data BLOB NOT NULL)');
  const insert = db.prepare('INSERT OR REPLACE INTO extra (idx, data) VALUES (?, ?)');
  const select = db.prepare('SELECT idx, data FROM extra WHERE idx BETWEEN ? AND ?');
  const writeAll = db.transaction((rows: [number, Buffer][]) => {
    for (const [i, d] of rows) insert.run(i, d);
  });
  let queue: [number, Buffer][] = [];
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    const rows = queue;
    queue = [];
    if (rows.length > 0 && db.open) writeAll(rows);
  };
  return {
    put(index, extraData) {
      queue.push([index, extraData]);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    get(indexes) {
      flush();
      const out = new Map<number, Buffer>();
      if (indexes.length === 0) return out;
      const rows = select.all(Math.min(...indexes), Math.max(...indexes)) as { idx: number; data: Buffer }[];
      for (const r of rows) out.set(r.idx, r.data);
      return out;
    },
    close() {
      flush();
      db.close();
    },
  };
}
