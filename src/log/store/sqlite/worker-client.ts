import { Worker } from 'node:worker_threads';
import { SigilError, ERROR_CODES, type ErrorCode } from '../../../errors/index.js';
import type { StoredEntry } from '../../types.js';
import { reviveBuffers } from './revive.js';
import { packBatch, packHashes } from './worker-codec.js';
import type { LookupTuning } from './lookup-index.js';
import type { CommitBatch, LogStore, NodeId, StoreState } from '../types.js';

interface Reply {
  id: number;
  ok: boolean;
  value?: unknown;
  error?: { code: string; message: string };
}

function toError(e: { code: string; message: string }): SigilError {
  const code: ErrorCode = e.code in ERROR_CODES ? (e.code as ErrorCode) : 'STORAGE_FAILURE';
  return new SigilError(code, e.message);
}

// Built (dist/*.js), the worker loads its entry directly; from the TypeScript sources it registers
// tsx itself, so it runs whether or not this process was started with a TypeScript loader.
function bootstrap(): string {
  const fromSource = import.meta.url.endsWith('.ts');
  const main = new URL(fromSource ? './worker-main.ts' : './worker-main.js', import.meta.url).href;
  const load = fromSource
    ? `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(main)}); })`
    : `import(${JSON.stringify(main)})`;
  return (
    `${load}.catch((e) => require('node:worker_threads').parentPort.postMessage(` +
    `{ id: 0, ok: false, error: { code: 'STORAGE_FAILURE', message: 'log store worker: ' + String(e) } }));`
  );
}

/** Opens the SQLite store (see sqlite.ts for its contract) on a worker thread. */
export async function openWorkerStore(path: string, tuning: LookupTuning): Promise<LogStore> {
  const worker = new Worker(bootstrap(), { eval: true, execArgv: [], workerData: { path, tuning } });
  const client = new WorkerStore(path, worker);
  await client.ready;
  return client;
}

class WorkerStore implements LogStore {
  readonly description: string;
  /** Requests are answered in order by one connection (see sqlite.ts). */
  readonly pipelinedCommits = true;
  readonly ready: Promise<void>;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
  private nextId = 1;
  private dead: SigilError | undefined;

  constructor(
    path: string,
    private readonly worker: Worker,
  ) {
    this.description = `sqlite:${path} (worker thread)`;
    this.ready = new Promise<void>((resolve, reject) =>
      this.pending.set(0, { resolve: () => resolve(), reject }),
    );
    worker.on('message', (r: Reply) => this.onReply(r));
    worker.on('error', (e) =>
      this.fail(new SigilError('STORAGE_FAILURE', `log store worker failed: ${e.message}`, { cause: e })),
    );
    worker.on('exit', (code) =>
      this.fail(new SigilError('STORAGE_FAILURE', `log store worker exited (${code})`)),
    );
  }

  private onReply(r: Reply): void {
    const p = this.pending.get(r.id);
    if (p === undefined) return;
    this.pending.delete(r.id);
    if (this.pending.size === 0) this.worker.unref();
    if (r.ok) p.resolve(reviveBuffers(r.value));
    else {
      p.reject(toError(r.error ?? { code: 'STORAGE_FAILURE', message: 'unknown worker error' }));
      if (r.id === 0) void this.worker.terminate();
    }
  }

  private fail(e: SigilError): void {
    this.dead ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  private call<T>(method: string, ...args: unknown[]): Promise<T> {
    return this.send(method, args, []);
  }

  private send<T>(method: string, args: unknown[], transfer: ArrayBuffer[]): Promise<T> {
    if (this.dead !== undefined) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.ref();
      this.worker.postMessage({ id, method, args }, transfer);
    });
  }

  load(): Promise<StoreState> {
    return this.call('load');
  }
  commitBatch(batch: CommitBatch): Promise<void> {
    const packed = packBatch(batch);
    return this.send('commitBatchPacked', [packed], [packed.bytes]);
  }
  getEntries(start: number, count: number): Promise<StoredEntry[]> {
    return this.call('getEntries', start, count);
  }
  findByLeafHashes(leafHashes: readonly Buffer[]): Promise<StoredEntry[]> {
    const packed = packHashes(leafHashes);
    return this.send('findByLeafHashesPacked', [packed], [packed.bytes]);
  }
  lookupIndexKey(key: string, limit: number): Promise<number[]> {
    return this.call('lookupIndexKey', key, limit);
  }
  getNodeRange(level: number, start: number, count: number): Promise<Buffer[]> {
    return this.call('getNodeRange', level, start, count);
  }
  getNodes(nodes: readonly NodeId[]): Promise<(Buffer | undefined)[]> {
    return this.call('getNodes', nodes);
  }
  async close(): Promise<void> {
    if (this.dead !== undefined) return;
    try {
      await this.call('close');
    } finally {
      this.dead = new SigilError('STORAGE_FAILURE', 'log store is closed');
      await this.worker.terminate();
    }
  }
}
