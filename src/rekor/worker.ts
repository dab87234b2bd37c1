import { parentPort, workerData } from 'node:worker_threads';
import { Work, type Task, type TaskResult } from './work.js';

/** Worker-thread side of the pool (see pool.ts): one message = one batch of tasks. */
const work = new Work((workerData as { signingKeyPem: string }).signingKeyPem);
parentPort?.on('message', (msg: { id: number; tasks: Task[] }) => {
  const results: TaskResult[] = msg.tasks.map((t) => work.run(t));
  parentPort?.postMessage({ id: msg.id, results });
});
parentPort?.postMessage({ ready: true });
