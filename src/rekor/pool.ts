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
  /** The SETs of a batch, in order. */
  signSets(payloads: readonly Uint8Array[]): Promise<Buffer[]>;
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
    signSets: async (payloads) => payloads.map((p) => signSet(signingKey, p)),
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
  batches: Map<number, Pending[]>;
  /** The thread exited: nothing is sent to it any more. */
  dead: boolean;
}

/** Most entries in one message to a worker, and fewest (fewer only when fewer wait). */
const MAX_TASKS_PER_MESSAGE = 256;
const MIN_TASKS_PER_MESSAGE = 32;

/**
 * A pool of `size` worker threads running work.ts that verify and canonicalize entries. Entries
 * travel in batches, at most one in flight per worker (see `waiting`), so the per-message cost is
 * paid per batch, not per entry.
 *
 * SETs (about 25 µs each with the native signer) are signed on the calling thread, while the batch
 * commits. On the workers they queued behind verification messages (up to 32 entries each, ~2 ms),
 * which kept a committed batch waiting for its SETs: measured on 2 cores at 64 clients, signing on
 * the main thread answered ~1 ms sooner per append and used less CPU per entry (no extra wake-ups).
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
  };

  /**
   * Entries not yet sent. Each worker has at most one message of entries in flight: what arrives
   * meanwhile waits here and leaves in the next message, sent the moment the worker answers. A
   * worker busy with its message would not start on more anyway, and every message costs both
   * threads a wake-up, which on a VM (an interprocessor interrupt, a hypervisor exit) can cost more
   * than the verification it carries; fewer, larger messages make that cost per batch.
   */
  let waiting: Pending[] = [];
  const verifiers: Slot[] = [];
  let scheduled = false;

  const startSlot = async (): Promise<Slot> => {
    const worker = new Worker(bootstrap, { eval: true });
    const slot: Slot = { worker, batches: new Map(), dead: false };
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
      batch.forEach((p, i) => p.resolve(m.results[i]!));
      dispatch();
    });
    worker.on('error', (e) =>
      failAll(slot, new SigilError('INTERNAL', 'worker thread failed', { cause: e })),
    );
    worker.on('exit', () => {
      slot.dead = true;
      if (closed) return;
      failAll(slot, new SigilError('UNAVAILABLE', 'worker thread exited'));
      if (verifiers.some((v) => !v.dead)) {
        dispatch();
        return;
      }
      const queued = waiting;
      waiting = [];
      for (const p of queued) p.reject(new SigilError('UNAVAILABLE', 'worker thread exited'));
    });
    return slot;
  };

  verifiers.push(...(await Promise.all(Array.from({ length: Math.max(1, size) }, startSlot))));
  const signingKey = createPrivateKey(signingKeyPem);

  const send = (slot: Slot, batch: Pending[]): void => {
    const id = nextId++;
    slot.batches.set(id, batch);
    slot.worker.postMessage({ id, tasks: batch.map((p) => p.task) });
  };

  const dispatch = (): void => {
    // Shares are fixed before sending, so idle workers split what waits evenly (but no share under
    // MIN_TASKS_PER_MESSAGE: a second message of a few entries costs more in wake-ups than it
    // saves); a busy worker's share waits for its answer.
    const share = Math.min(
      MAX_TASKS_PER_MESSAGE,
      Math.max(MIN_TASKS_PER_MESSAGE, Math.ceil(waiting.length / verifiers.length)),
    );
    for (const slot of verifiers) {
      if (waiting.length === 0) return;
      if (slot.batches.size === 0 && !slot.dead) send(slot, waiting.splice(0, share));
    }
  };
  const flush = (): void => {
    scheduled = false;
    dispatch();
  };
  const submitEntry = (task: Task): Promise<EntryOutcome> => {
    if (closed) return Promise.reject(new SigilError('UNAVAILABLE', 'log is shutting down'));
    if (verifiers.every((v) => v.dead))
      return Promise.reject(new SigilError('UNAVAILABLE', 'worker threads exited'));
    return new Promise((resolve, reject) => {
      waiting.push({ task, resolve, reject });
      // Entries read in the same event-loop turn travel together.
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
  };

  return {
    prepareEntry: async (json) => unwrapEntry(await submitEntry({ t: 'entry', json })),
    signSet: async (payload) => {
      if (closed) throw new SigilError('UNAVAILABLE', 'log is shutting down');
      return signSet(signingKey, payload);
    },
    // On the calling thread: sent to the workers, a batch's SETs waited behind the verification
    // messages queued there, holding every append of the batch after its commit.
    signSets: async (payloads) => {
      if (closed) throw new SigilError('UNAVAILABLE', 'log is shutting down');
      return payloads.map((p) => signSet(signingKey, p));
    },
    close: async () => {
      closed = true;
      await Promise.all(verifiers.map((s) => s.worker.terminate()));
    },
  };
}
