import { createPrivateKey } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { SigilError, type ErrorCode } from '../errors/index.js';
import type { CanonicalEntry } from './kinds/index.js';
import { signSet } from './set.js';
import { Work, type EntryOutcome, type Task } from './work.js';

/** A canonicalized entry plus its RFC 6962 leaf hash. */
export interface PreparedEntry extends CanonicalEntry {
  leafHash: Buffer;
}

/** The CPU-heavy work of the personality: entry verification/canonicalization and SET signing. */
export interface RekorWorkers {
  /** Raw JSON request body → prepared entry; rejects with the entry's SigilError. */
  prepareEntry(json: string): Promise<PreparedEntry>;
  signSet(payload: Uint8Array): Promise<Buffer>;
  close(): Promise<void>;
}

function unwrapEntry(r: EntryOutcome): PreparedEntry {
  if (!r.ok) throw new SigilError(r.code as ErrorCode, r.message);
  const body = Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength);
  const leafHash = Buffer.from(r.leafHash.buffer, r.leafHash.byteOffset, r.leafHash.byteLength);
  return { kind: r.kind, apiVersion: r.apiVersion, body, leafHash, indexKeys: r.indexKeys };
}

/** Everything on the calling thread (tests, tiny deployments). */
export function inlineWorkers(signingKeyPem: string): RekorWorkers {
  const work = new Work();
  const signingKey = createPrivateKey(signingKeyPem);
  return {
    prepareEntry: async (json) => unwrapEntry(work.run({ t: 'entry', json })),
    signSet: async (payload) => signSet(signingKey, payload),
    close: async () => {},
  };
}

interface Pending {
  task: Task;
  resolve: (r: EntryOutcome) => void;
  reject: (e: unknown) => void;
}

interface Slot {
  worker: Worker;
  outstanding: number;
  batches: Map<number, Pending[]>;
}

/** Tasks queued within one event-loop turn travel to a worker together, at most this many per message. */
const MAX_TASKS_PER_MESSAGE = 256;

/**
 * A pool of `size` worker threads running work.ts that verify and canonicalize entries. Tasks
 * queued in the same event-loop turn are sent as one message per worker (entries spread over the
 * least busy workers), so the per-message cost is paid per batch, not per entry.
 *
 * SETs are signed on the calling thread (about 26 µs each through the addon, while the batch's
 * commit runs): a signer thread of its own cost more in hand-offs (payload copies, wake-ups, a
 * thread competing for two cores) than the signatures, and the batch waited on it after its
 * commit (bench:log, five alternating pairs: median +5% entries/s and −6% CPU per entry inline).
 */
export async function createWorkerPool(size: number, signingKeyPem: string): Promise<RekorWorkers> {
  const script = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url)
    .href;
  const tsx = import.meta.url.endsWith('.ts') ? import.meta.resolve('tsx/esm/api') : undefined;
  // Workers do not inherit tsx's in-process loader; an eval bootstrap registers it, then loads the worker.
  const bootstrap = tsx
    ? `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(script)}); });`
    : `import(${JSON.stringify(script)});`;

  let closed = false;
  let nextId = 1;

  const failAll = (slot: Slot, e: unknown): void => {
    for (const batch of slot.batches.values()) for (const p of batch) p.reject(e);
    slot.batches.clear();
    slot.outstanding = 0;
  };

  const startSlot = async (): Promise<Slot> => {
    const worker = new Worker(bootstrap, { eval: true });
    const slot: Slot = { worker, outstanding: 0, batches: new Map() };
    await new Promise<void>((resolve, reject) => {
      const onReady = (m: { ready?: boolean }): void => {
        if (m.ready) {
          worker.off('error', reject);
          resolve();
        }
      };
      worker.once('message', onReady);
      worker.once('error', reject);
    });
    worker.on('message', (m: { id: number; results: EntryOutcome[] }) => {
      const batch = slot.batches.get(m.id);
      if (!batch) return;
      slot.batches.delete(m.id);
      slot.outstanding -= batch.length;
      batch.forEach((p, i) => p.resolve(m.results[i]!));
    });
    worker.on('error', (e) =>
      failAll(slot, new SigilError('INTERNAL', 'worker thread failed', { cause: e })),
    );
    worker.on('exit', () => {
      if (!closed) failAll(slot, new SigilError('UNAVAILABLE', 'worker thread exited'));
    });
    return slot;
  };

  const verifiers = await Promise.all(Array.from({ length: Math.max(1, size) }, startSlot));
  const signingKey = createPrivateKey(signingKeyPem);

  const send = (slot: Slot, batch: Pending[]): void => {
    const id = nextId++;
    slot.batches.set(id, batch);
    slot.outstanding += batch.length;
    slot.worker.postMessage({ id, tasks: batch.map((p) => p.task) });
  };

  /** Tasks of one kind, queued this turn and sent together at the next setImmediate. */
  const lane = (dispatch: (items: Pending[]) => void): ((task: Task) => Promise<EntryOutcome>) => {
    let queue: Pending[] = [];
    let scheduled = false;
    const flush = (): void => {
      scheduled = false;
      const items = queue;
      queue = [];
      dispatch(items);
    };
    return (task) => {
      if (closed) return Promise.reject(new SigilError('UNAVAILABLE', 'log is shutting down'));
      return new Promise((resolve, reject) => {
        queue.push({ task, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    };
  };

  const submitEntry = lane((items) => {
    const per = Math.min(MAX_TASKS_PER_MESSAGE, Math.ceil(items.length / verifiers.length));
    for (let i = 0; i < items.length; i += per) {
      let slot = verifiers[0]!;
      for (const s of verifiers) if (s.outstanding < slot.outstanding) slot = s;
      send(slot, items.slice(i, i + per));
    }
  });

  return {
    prepareEntry: async (json) => unwrapEntry(await submitEntry({ t: 'entry', json })),
    signSet: async (payload) => {
      if (closed) throw new SigilError('UNAVAILABLE', 'log is shutting down');
      return signSet(signingKey, payload);
    },
    close: async () => {
      closed = true;
      await Promise.all(verifiers.map((s) => s.worker.terminate()));
    },
  };
}
