// The SQLite log store on a worker thread: answers {id, method, args} messages in order.
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteLogStore } from './sqlite.js';
import { reviveBuffers } from './revive.js';
import type { LogStore } from './types.js';

const METHODS = new Set([
  'load',
  'commitBatch',
  'getEntries',
  'findByLeafHashes',
  'lookupIndexKey',
  'getNodeRange',
  'getNodes',
  'close',
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
  store = new SqliteLogStore((workerData as { path: string }).path);
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
  const method = (s as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[
    req.method
  ] as LogStore['close'];
  (method as (...a: unknown[]) => Promise<unknown>).apply(s, reviveBuffers(req.args)).then(
    (value) => port.postMessage({ id: req.id, ok: true, value }),
    (e: unknown) => port.postMessage({ id: req.id, ok: false, error: describe(e) }),
  );
});
