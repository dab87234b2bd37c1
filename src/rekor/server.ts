import { availableParallelism } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { listen } from '../server/index.js';
import { join } from 'node:path';
import { createLog, type Log } from '../log/index.js';
import { openShards } from '../log/shards/open.js';
import { registerShardTiles } from '../log/shards/tiles.js';
import { rekorCheckpointSigner, checkpointName } from './checkpoint.js';
import { loadOrCreateLogKey } from './log-key.js';
import { createWorkerPool, inlineWorkers, type RekorWorkers } from './pool.js';
import { createRekorApp, DEFAULT_MAX_IN_FLIGHT } from './app.js';
import { RekorService, rekorSetAttestor } from './service.js';
import { ShardSet } from './shards.js';

export const DEFAULT_LOG_PORT = 3000;
export const DEFAULT_LOG_HOST = '127.0.0.1';
export { DEFAULT_MAX_IN_FLIGHT };

export interface LogServerConfig {
  /** Holds the signing key (PKCS#8, 0600) and the SQLite log (one database per shard, see src/log/shards). */
  dataDir: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Public base URL (no trailing slash); its hostname names checkpoints. Defaults to the listening URL. */
  publicUrl?: string;
  /** Maximum request body in bytes (default 4 MiB). */
  bodyLimit?: number;
  /** pino level (default 'warn'; 'silent' in tests). */
  logLevel?: string;
  /** Worker threads for verification and SET signing; 0 runs everything on the main thread. Default: CPU count. */
  workers?: number;
  /** PEM serving certificate (chain) and key: HTTPS instead of HTTP. */
  tls?: { cert: string; key: string };
  /** Requests in flight before 503 + Retry-After (default DEFAULT_MAX_IN_FLIGHT). */
  maxInFlight?: number;
}

export interface LogServer {
  /** Listening base URL, e.g. http://127.0.0.1:3000. */
  url: string;
  publicUrl: string;
  app: FastifyInstance;
  log: Log;
  treeId: string;
  /** Hex SHA-256 of the log key's DER SPKI. */
  logId: string;
  publicKeyPem: string;
  /** Checkpoint origin and key name. */
  origin: string;
  checkpointName: string;
  close(): Promise<void>;
}

/** Opens (or creates) the log in `dataDir` and serves the Rekor v1 API on it. */
export async function createLogServer(config: LogServerConfig): Promise<LogServer> {
  const host = config.host ?? DEFAULT_LOG_HOST;
  const key = loadOrCreateLogKey(config.dataDir);
  const name = checkpointName(config.publicUrl ?? `http://${host.includes(':') ? `[${host}]` : host}`);
  const shards = await openShards(config.dataDir);
  const { store, offset } = shards.active;
  let log: Log | undefined;
  let workers: RekorWorkers | undefined;
  let app: FastifyInstance | undefined;
  try {
    const { treeId } = await store.load();
    log = await createLog({
      store,
      signTreeHead: rekorCheckpointSigner(key, name, treeId),
      attest: rekorSetAttestor(() => workers, key.logId, offset),
    });
    const keyPem = key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const size = config.workers ?? availableParallelism();
    workers = size > 0 ? await createWorkerPool(size, keyPem) : inlineWorkers(keyPem);
    const svc = new RekorService(log, workers, key, new ShardSet(log, offset, shards.inactive));
    let publicUrl = config.publicUrl?.replace(/\/+$/, '') ?? '';
    app = createRekorApp(svc, {
      baseUrl: () => publicUrl,
      ...(config.bodyLimit !== undefined ? { bodyLimit: config.bodyLimit } : {}),
      logLevel: config.logLevel ?? 'warn',
      maxInFlight: config.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT,
      ...(config.tls ? { tls: config.tls } : {}),
    });
    void app.register(import('./explorer.js'));
    void app.register(import('../log/tiles/routes.js'), {
      log,
      dir: join(config.dataDir, shards.active.record.tiles),
    }); // C2SP tlog-tiles
    registerShardTiles(app, config.dataDir, shards);
    const url = await listen(app, config.port ?? DEFAULT_LOG_PORT, host);
    if (!publicUrl) publicUrl = url;
    const opened = { log, workers, app };
    return {
      url,
      publicUrl,
      app,
      log,
      treeId: log.treeId,
      logId: key.logId,
      publicKeyPem: key.publicKeyPem,
      origin: `${name} - ${log.treeId}`,
      checkpointName: name,
      close: async () => {
        await opened.app.close();
        await opened.log.close();
        await shards.closeInactive();
        await opened.workers.close();
      },
    };
  } catch (e) {
    await app?.close().catch(() => undefined);
    await workers?.close().catch(() => undefined);
    if (log) await log.close().catch(() => undefined);
    else await store.close().catch(() => undefined);
    await shards.closeInactive();
    throw e;
  }
}
