import cluster, { type Worker } from 'node:cluster';
import { join } from 'node:path';
import {
  closeOnSignals,
  exitHow,
  isSigilMessage,
  killWorkers,
  stopWorkers,
  workerPids,
} from '../server/index.js';
import { loadOrCreateTsa, loadTsa, TSA_FILES } from './keys.js';
import { LEASE_SIZE, LeasedSerials, SerialAllocator } from './serial.js';
import { createTsaServer, TIMESTAMP_PATH, TSA_SERIAL_FILE, type TsaServerConfig } from './server.js';

/**
 * `sigil tsa serve --workers N`: N processes (node:cluster) answer on one port. The primary
 * serves no request: it makes or loads the key and chain once (workers never create them) and
 * owns the serial allocator; each worker leases ranges of LEASE_SIZE serials from it over IPC,
 * each range durably reserved before it is handed out, so serials stay unique across workers,
 * crashes and restarts (a range a worker did not use up is skipped).
 */

/** What a worker starts from: the server config without its functions, the key as file paths. */
type WorkerConfig = Omit<TsaServerConfig, 'serials' | 'keyFile' | 'chainFile'> & {
  keyFile: string;
  chainFile: string;
};

type ToWorker =
  | { sigil: 'tsa.config'; config: WorkerConfig }
  | { sigil: 'tsa.lease'; id: number; first?: string; error?: string };
type ToPrimary =
  | { sigil: 'tsa.hello' }
  | { sigil: 'tsa.ready'; url: string }
  | { sigil: 'tsa.failed'; message: string }
  | { sigil: 'tsa.lease?'; id: number };

export interface TsaCluster {
  url: string;
  timestampUrl: string;
  pids(): number[];
  close(): Promise<void>;
}

const WORKER_MAIN = new URL(
  import.meta.url.endsWith('.ts') ? './worker-main.ts' : './worker-main.js',
  import.meta.url,
).pathname;

/** The primary: forks `workers` processes and resolves once every one listens. */
export async function startTsaCluster(config: TsaServerConfig, workers: number): Promise<TsaCluster> {
  const paths =
    config.keyFile !== undefined && config.chainFile !== undefined
      ? { keyFile: config.keyFile, chainFile: config.chainFile }
      : {
          keyFile: join(config.dataDir, TSA_FILES.leafKey),
          chainFile: join(config.dataDir, TSA_FILES.chain),
        };
  if (config.keyFile === undefined) await loadOrCreateTsa(config.dataDir);
  loadTsa(paths.keyFile, paths.chainFile); // fails here, once, rather than in every worker
  const { serials: _serials, ...rest } = config;
  const workerConfig: WorkerConfig = { ...rest, ...paths };
  const allocator = new SerialAllocator(join(config.dataDir, TSA_SERIAL_FILE));
  cluster.setupPrimary({ exec: WORKER_MAIN });

  let closing = false;
  let started = false;
  let url = '';
  const ready = new Set<Worker>();
  const timers = new Set<NodeJS.Timeout>();
  return new Promise((resolve, reject) => {
    const fail = (message: string): void => {
      if (started || closing) return;
      closing = true;
      killWorkers();
      reject(new Error(message));
    };
    const lease = (w: Worker, id: number): void => {
      let reply: ToWorker;
      try {
        reply = { sigil: 'tsa.lease', id, first: allocator.takeRange(LEASE_SIZE).toString() };
      } catch (e) {
        reply = { sigil: 'tsa.lease', id, error: (e as Error).message };
      }
      if (w.isConnected()) w.send(reply);
    };
    const fork = (): void => {
      const w = cluster.fork();
      w.on('error', () => undefined); // a closed IPC channel; its 'exit' follows
      w.on('message', (m: unknown) => {
        if (!isSigilMessage(m)) return;
        const msg = m as ToPrimary;
        if (msg.sigil === 'tsa.hello')
          w.send({ sigil: 'tsa.config', config: workerConfig } satisfies ToWorker);
        else if (msg.sigil === 'tsa.lease?') lease(w, msg.id);
        else if (msg.sigil === 'tsa.failed') fail(msg.message);
        else if (msg.sigil === 'tsa.ready') {
          ready.add(w);
          url = msg.url;
          if (!started && ready.size === workers) {
            started = true;
            resolve({ url, timestampUrl: `${url}${TIMESTAMP_PATH}`, pids, close });
          }
        }
      });
      w.on('exit', (code, signal) => {
        ready.delete(w);
        const how = exitHow(code, signal);
        if (!started) return fail(`worker ${w.process.pid ?? '?'} ${how} before listening`);
        if (closing) return;
        process.stderr.write(`sigil tsa: worker ${w.process.pid ?? '?'} ${how}; starting another\n`);
        const t = setTimeout(() => {
          timers.delete(t);
          if (!closing) fork();
        }, 500);
        timers.add(t);
      });
    };
    const pids = workerPids;
    const close = async (): Promise<void> => {
      closing = true;
      for (const t of timers) clearTimeout(t);
      await stopWorkers(20_000);
    };
    for (let i = 0; i < workers; i++) fork();
  });
}

/** A worker (worker-main.ts): config from the primary, serials leased from it, SIGTERM drains. */
export async function runTsaWorker(): Promise<void> {
  const pending = new Map<number, { resolve: (first: bigint) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  const config = await new Promise<WorkerConfig>((resolve) => {
    process.on('message', (m: unknown) => {
      if (!isSigilMessage(m)) return;
      const msg = m as ToWorker;
      if (msg.sigil === 'tsa.config') resolve(msg.config);
      else if (msg.sigil === 'tsa.lease') {
        const p = pending.get(msg.id);
        pending.delete(msg.id);
        if (msg.first !== undefined) p?.resolve(BigInt(msg.first));
        else p?.reject(new Error(`no serials: ${msg.error ?? 'unknown'}`));
      }
    });
    process.send!({ sigil: 'tsa.hello' } satisfies ToPrimary);
  });
  const serials = new LeasedSerials(
    () =>
      new Promise<bigint>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        process.send!({ sigil: 'tsa.lease?', id } satisfies ToPrimary);
      }),
  );
  try {
    const server = await createTsaServer({ ...config, serials });
    process.send!({ sigil: 'tsa.ready', url: server.url } satisfies ToPrimary);
    closeOnSignals(() => server.close());
    // The primary is gone: nothing leases serials any more.
    process.once('disconnect', () => void server.close().finally(() => process.exit(0)));
  } catch (e) {
    process.send!({ sigil: 'tsa.failed', message: (e as Error).message } satisfies ToPrimary);
    process.exit(1);
  }
}
