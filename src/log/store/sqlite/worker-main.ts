// The SQLite log store on a worker thread: answers {id, method, args} messages in order.
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteLogStore } from './sqlite.js';
import { reviveBuffers } from './revive.js';
import { unpackBatch, unpackHashes, type PackedBatch } from './worker-codec.js';
import type { LookupTuning } from './lookup-index.js';
import type { LogStore } from '../types.js';

const METHODS = new Set([
  'load',
  'commitBatch',
  'getEntries',
  'findByLeafHashes',
  'lookupIndexKey',
  'getNodeRange',
  'getNodes',
  'close',
  'commitBatchPacked',
  'findByLeafHashesPacked',
]);

interface Request {
  id: number;
  method: string;
  args: unknown[];
}

function describe(e: unknown): { code: string; message: string } {
  const code = (e as { code?: unknown } | null)?.code;
  return {
    code: typeof code === 'string' ? code : 'STORAGE_FAILURE',
    message: e instanceof Error ? e.message : String(e),
  };
}

const port = parentPort!;
let store: SqliteLogStore | undefined;
try {
  const data = workerData as { path: string; tuning: LookupTuning };
  store = new SqliteLogStore(data.path, data.tuning);
  port.postMessage({ id: 0, ok: true });
} catch (e) {
  port.postMessage({ id: 0, ok: false, error: describe(e) });
}

port.on('message', (req: Request) => {
  const s = store;
  if (s === undefined || !METHODS.has(req.method)) {
    port.postMessage({
      id: req.id,
      ok: false,
      error: { code: 'STORAGE_FAILURE', message: 'log store is not open' },
    });
    return;
  }
  const run = (): Promise<unknown> => {
    if (req.method === 'commitBatchPacked') return s.commitBatch(unpackBatch(req.args[0] as PackedBatch));
    if (req.method === 'findByLeafHashesPacked')
      return s.findByLeafHashes(unpackHashes(req.args[0] as { lengths: Uint32Array; bytes: ArrayBuffer }));
    const method = (s as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[
      req.method
    ] as LogStore['close'];
    return (method as (...a: unknown[]) => Promise<unknown>).apply(s, reviveBuffers(req.args));
  };
  Promise.resolve()
    .then(run)
    .then(
      (value) => port.postMessage({ id: req.id, ok: true, value }),
      (e: unknown) => port.postMessage({ id: req.id, ok: false, error: describe(e) }),
    );
});
