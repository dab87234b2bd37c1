import { parentPort, workerData } from 'node:worker_threads';
import { Work, type EntryOutcome, type Packed, type Task } from './work.js';

/** Worker-thread side of the pool (see pool.ts): one message = one batch of entries, or of SETs to sign. */
const work = new Work((workerData as { signingKeyPem?: string } | null)?.signingKeyPem);
parentPort?.on('message', (msg: { id: number; tasks?: Task[]; sets?: Packed }) => {
  if (msg.sets !== undefined) {
    try {
      const sigs = work.signSets(msg.sets);
      parentPort?.postMessage({ id: msg.id, sigs }, [sigs.bytes]);
    } catch (e) {
      parentPort?.postMessage({ id: msg.id, error: e instanceof Error ? e.message : String(e) });
    }
    return;
  }
  const results: EntryOutcome[] = (msg.tasks ?? []).map((t) => work.run(t));
  parentPort?.postMessage({ id: msg.id, results });
});
parentPort?.postMessage({ ready: true });
