import { Worker } from 'node:worker_threads';
import { SigilError, type ErrorCode } from '../errors/index.js';
import { parseCreateEntryRequest, type LoggedEntry } from './request.js';
import { unpackOutcomes, type Outcome, type PackedOutcomes } from './outcomes.js';

/** Request validation + signature verification (the CPU-heavy part of an append), on or off the main thread. */
export interface EntryParser {
  parse(text: string, limit: number): Promise<LoggedEntry>;
  close(): Promise<void>;
  /** The live worker threads (none inline). */
  readonly threads?: readonly Worker[];
}

export const inlineParser: EntryParser = {
  parse: async (text, limit) => parseCreateEntryRequest(text, limit),
  close: async () => undefined,
};

interface Slot {
  worker: Worker;
  outstanding: number;
  batches: Map<number, { resolve(r: Outcome): void; reject(e: unknown): void }[]>;
}

function unwrap(r: Outcome): LoggedEntry {
  if (!r.ok) throw new SigilError(r.code as ErrorCode, r.message);
  return { kind: r.kind, version: '0.0.2', body: r.body };
}

/**
 * `size` worker threads verifying requests, as the v1 log's pool does: requests queued in one
 * event-loop turn travel to the least busy worker together, so the hand-off is paid per batch.
 */
export async function createParserPool(size: number): Promise<EntryParser> {
  const ts = import.meta.url.endsWith('.ts');
  const script = new URL(ts ? './worker.ts' : './worker.js', import.meta.url).href;
  const tsx = ts ? import.meta.resolve('tsx/esm/api') : undefined;
  // Workers do not inherit tsx's in-process loader; an eval bootstrap registers it, then loads the worker.
  const bootstrap = tsx
    ? `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(script)}); });`
    : `import(${JSON.stringify(script)});`;
  let closed = false;
  let nextId = 1;
  const slots: Slot[] = [];
  const start = async (): Promise<Slot> => {
    const worker = new Worker(bootstrap, { eval: true });
    const slot: Slot = { worker, outstanding: 0, batches: new Map() };
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => {
        worker.off('error', reject);
        resolve();
      });
      worker.once('error', reject);
    });
    const failAll = (e: unknown): void => {
      for (const b of slot.batches.values()) for (const p of b) p.reject(e);
      slot.batches.clear();
      slot.outstanding = 0;
    };
    worker.on('message', (m: { id: number; outcomes: PackedOutcomes }) => {
      const batch = slot.batches.get(m.id);
      if (!batch) return;
      slot.batches.delete(m.id);
      slot.outstanding -= batch.length;
      const results = unpackOutcomes(m.outcomes);
      batch.forEach((p, i) => p.resolve(results[i]!));
    });
    worker.on('error', (e) => failAll(new SigilError('INTERNAL', 'worker thread failed', { cause: e })));
    // A dead worker drops posted messages: without a replacement, every request routed to it would hang.
    worker.on('exit', () => {
      if (closed) return;
      failAll(new SigilError('UNAVAILABLE', 'worker thread exited'));
      const i = slots.indexOf(slot);
      if (i >= 0) slots.splice(i, 1);
      start().then(
        (s) => (closed ? void s.worker.terminate() : slots.push(s)),
        () => undefined,
      );
    });
    return slot;
  };
  slots.push(...(await Promise.all(Array.from({ length: Math.max(1, size) }, start))));
  let queue: { text: string; limit: number; resolve(r: Outcome): void; reject(e: unknown): void }[] = [];
  const flush = (): void => {
    const items = queue;
    queue = [];
    if (slots.length === 0) {
      for (const p of items) p.reject(new SigilError('UNAVAILABLE', 'no worker thread is running; retry'));
      return;
    }
    const per = Math.min(256, Math.ceil(items.length / slots.length));
    for (let i = 0; i < items.length; i += per) {
      let slot = slots[0]!;
      for (const s of slots) if (s.outstanding < slot.outstanding) slot = s;
      const part = items.slice(i, i + per);
      const id = nextId++;
      slot.batches.set(id, part);
      slot.outstanding += part.length;
      slot.worker.postMessage({ id, limit: part[0]!.limit, texts: part.map((p) => p.text) });
    }
  };
  return {
    get threads() {
      return slots.map((s) => s.worker);
    },
    parse: async (text, limit) => {
      if (closed) throw new SigilError('UNAVAILABLE', 'log is shutting down');
      const r = await new Promise<Outcome>((resolve, reject) => {
        if (queue.length === 0) setImmediate(flush);
        queue.push({ text, limit, resolve, reject });
      });
      return unwrap(r);
    },
    close: async () => {
      closed = true;
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}
