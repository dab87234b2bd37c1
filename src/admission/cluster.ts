import cluster, { type Worker } from 'node:cluster';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { AggregatorRegistry, type Registry } from 'prom-client';
import {
  closeOnSignals,
  exitHow,
  isSigilMessage,
  killWorkers,
  stopWorkers,
  workerPids,
} from '../server/index.js';

/**
 * `sigil admission serve --workers N`: N processes (node:cluster) accept HTTPS connections on one
 * port. The primary parses and checks everything once, then hands each worker the same payload
 * (policy texts, trusted root, TLS certificate and key) over the IPC channel: never through the
 * environment, argv or a file, so the key is nowhere but in memory. The primary serves no
 * request itself; with Node's default round-robin scheduling it accepts each connection and
 * passes it to a worker, which keeps it (keep-alive) until it closes.
 *
 * GET /metrics on any worker answers the sum over all workers: the worker asks the primary,
 * which collects every worker's registry with prom-client's AggregatorRegistry.
 */

type ToWorker<P> =
  | { sigil: 'admission.config'; payload: P }
  | { sigil: 'admission.metrics'; id: number; text?: string; error?: string };
type ToPrimary =
  | { sigil: 'admission.hello' }
  | { sigil: 'admission.ready'; url: string }
  | { sigil: 'admission.failed'; message: string }
  | { sigil: 'admission.metrics?'; id: number };

export const isClusterWorker = (): boolean => cluster.isWorker;

/**
 * The default --workers: the CPUs this process may run on (availableParallelism), capped by a
 * cgroup v2 CPU quota when there is one: in a container with `limits.cpu: 2`, 2, not the node's 64.
 */
export function defaultWorkerCount(cpuMaxFile = '/sys/fs/cgroup/cpu.max'): number {
  const cpus = availableParallelism();
  let quota = Infinity;
  try {
    const [max, period] = readFileSync(cpuMaxFile, 'utf8').trim().split(/\s+/);
    if (max !== 'max' && Number(period) > 0) quota = Math.ceil(Number(max) / Number(period));
  } catch {
    // no cgroup v2 CPU controller here
  }
  return Math.max(1, Math.min(cpus, Number.isFinite(quota) ? quota : cpus));
}

export interface ClusterOptions<P> {
  workers: number;
  /** What every worker starts from (sent over IPC; may hold the TLS key). */
  payload: P;
  /** A worker that stops on its own is restarted; this is told (default: a line on stderr). */
  onRestart?: (pid: number | undefined, how: string) => void;
  /** After SIGTERM, workers still running after this long are killed (default 20 s). */
  stopTimeoutMs?: number;
}

export interface AdmissionCluster {
  url: string;
  /** Process ids of the workers running now. */
  pids(): number[];
  /** SIGTERM to every worker (each drains its connections), then waits for all of them to exit. */
  close(): Promise<void>;
}

const RESTART_DELAY_MS = { min: 100, max: 5000, stableAfter: 10_000 };

/** The primary: forks `workers` processes, resolves once every one listens (rejects if one fails first). */
export function startAdmissionCluster<P>(opts: ClusterOptions<P>): Promise<AdmissionCluster> {
  const aggregator = new AggregatorRegistry();
  const onRestart =
    opts.onRestart ??
    ((pid, how) => process.stderr.write(`sigil admission: worker ${pid ?? '?'} ${how}; starting another\n`));
  let closing = false;
  let started = false;
  let url = '';
  let restartDelay = RESTART_DELAY_MS.min;
  let lastRestart = 0;
  const timers = new Set<NodeJS.Timeout>();
  const ready = new Set<Worker>();

  return new Promise((resolve, reject) => {
    const fail = (message: string): void => {
      if (started || closing) return;
      closing = true;
      killWorkers();
      reject(new Error(message));
    };
    const answerMetrics = (w: Worker, id: number): void => {
      aggregator.clusterMetrics().then(
        (text) => w.isConnected() && w.send({ sigil: 'admission.metrics', id, text } satisfies ToWorker<P>),
        (e: unknown) =>
          w.isConnected() &&
          w.send({ sigil: 'admission.metrics', id, error: (e as Error).message } satisfies ToWorker<P>),
      );
    };
    const fork = (): void => {
      const w = cluster.fork();
      w.on('error', () => undefined); // a closed IPC channel; its 'exit' follows
      w.on('message', (m: unknown) => {
        if (!isSigilMessage(m)) return;
        const msg = m as ToPrimary;
        if (msg.sigil === 'admission.hello') {
          w.send({ sigil: 'admission.config', payload: opts.payload } satisfies ToWorker<P>);
        } else if (msg.sigil === 'admission.ready') {
          ready.add(w);
          url = msg.url;
          if (!started && ready.size === opts.workers) {
            started = true;
            resolve({ url, pids, close });
          }
        } else if (msg.sigil === 'admission.failed') {
          fail(msg.message);
        } else if (msg.sigil === 'admission.metrics?') {
          answerMetrics(w, msg.id);
        }
      });
      w.on('exit', (code, signal) => {
        ready.delete(w);
        const how = exitHow(code, signal);
        if (!started) return fail(`worker ${w.process.pid ?? '?'} ${how} before listening`);
        if (closing) return;
        onRestart(w.process.pid, how);
        // Back off when workers keep dying; a worker that stayed up a while resets the delay.
        const now = Date.now();
        restartDelay =
          now - lastRestart > RESTART_DELAY_MS.stableAfter
            ? RESTART_DELAY_MS.min
            : Math.min(RESTART_DELAY_MS.max, restartDelay * 2);
        lastRestart = now;
        const t = setTimeout(() => {
          timers.delete(t);
          if (!closing) fork();
        }, restartDelay);
        timers.add(t);
      });
    };
    const pids = workerPids;
    const close = async (): Promise<void> => {
      closing = true;
      for (const t of timers) clearTimeout(t);
      await stopWorkers(opts.stopTimeoutMs ?? 20_000);
    };
    for (let i = 0; i < opts.workers; i++) fork();
  });
}

export interface WorkerServer {
  url: string;
  /** The worker's own metrics, which the primary aggregates. */
  registry: Registry;
  close(): Promise<void>;
}

/**
 * A worker: asks the primary for the payload, starts its server with it, says where it listens,
 * and stops (draining) on SIGTERM. `metricsText` answers /metrics with every worker's metrics.
 * When the primary dies, node:cluster ends the worker (its IPC channel closes).
 */
export async function runAdmissionWorker<P>(
  start: (payload: P, metricsText: () => Promise<string>) => Promise<WorkerServer>,
): Promise<void> {
  const pending = new Map<number, (text: string | Error) => void>();
  let nextId = 0;
  const payload = await new Promise<P>((resolve) => {
    process.on('message', (m: unknown) => {
      if (!isSigilMessage(m)) return;
      const msg = m as ToWorker<P>;
      if (msg.sigil === 'admission.config') resolve(msg.payload);
      else if (msg.sigil === 'admission.metrics') {
        pending.get(msg.id)?.(msg.text ?? new Error(msg.error ?? 'no metrics'));
        pending.delete(msg.id);
      }
    });
    process.send!({ sigil: 'admission.hello' } satisfies ToPrimary);
  });
  new AggregatorRegistry(); // answers the primary's prom-client requests for this worker's metrics
  let server: WorkerServer;
  const metricsText = (): Promise<string> =>
    new Promise<string>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, (r) => (r instanceof Error ? reject(r) : resolve(r)));
      process.send!({ sigil: 'admission.metrics?', id } satisfies ToPrimary);
    }).catch((e: unknown) =>
      // Aggregation failed (a worker died mid-collection): this worker's own figures, said so.
      server.registry
        .metrics()
        .then((own) => `# sigil: this worker only (pid ${process.pid}): ${(e as Error).message}\n${own}`),
    );
  try {
    server = await start(payload, metricsText);
  } catch (e) {
    process.send!({ sigil: 'admission.failed', message: (e as Error).message } satisfies ToPrimary, () =>
      process.exit(1),
    );
    return;
  }
  AggregatorRegistry.setRegistries([server.registry]);
  closeOnSignals(() => server.close());
  process.send!({ sigil: 'admission.ready', url: server.url } satisfies ToPrimary);
}
