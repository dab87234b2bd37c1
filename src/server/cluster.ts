import cluster, { type Worker } from 'node:cluster';

/** Whether an IPC message is one of sigil's (`{ sigil: '<kind>', … }`). */
export const isSigilMessage = (m: unknown): m is { sigil: string } =>
  typeof m === 'object' && m !== null && typeof (m as { sigil?: unknown }).sigil === 'string';

/** Process ids of the node:cluster workers running now. */
export const workerPids = (): number[] =>
  Object.values(cluster.workers ?? {}).flatMap((w) => (w?.process.pid ? [w.process.pid] : []));

/** SIGKILL to every worker (a cluster that failed to start). */
export function killWorkers(): void {
  for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
}

/** SIGTERM to every running worker (each drains), SIGKILL to one still running after `timeoutMs`. */
export async function stopWorkers(timeoutMs: number): Promise<void> {
  const running = Object.values(cluster.workers ?? {}).filter(
    (w): w is Worker => w !== undefined && w.process.exitCode === null && w.process.signalCode === null,
  );
  await Promise.all(
    running.map(
      (w) =>
        new Promise<void>((done) => {
          const kill = setTimeout(() => w.process.kill('SIGKILL'), timeoutMs);
          w.process.once('exit', () => {
            clearTimeout(kill);
            done();
          });
          w.process.kill('SIGTERM');
        }),
    ),
  );
}

/** How a worker ended, for a log line ("was killed by SIGKILL", "exited with code 1"). */
export const exitHow = (code: number | null, signal: string | null): string =>
  signal ? `was killed by ${signal}` : `exited with code ${code}`;
