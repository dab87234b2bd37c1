import { parentPort } from 'node:worker_threads';
import { Work, type EntryOutcome, type Task } from './work.js';

/** Worker-thread side of the pool (see pool.ts): one message = one batch of entries. */
const work = new Work();
parentPort?.on('message', (msg: { id: number; tasks: Task[] }) => {
  const results: EntryOutcome[] = msg.tasks.map((t) => work.run(t));
  parentPort?.postMessage({ id: msg.id, results });
});
parentPort?.postMessage({ ready: true });
