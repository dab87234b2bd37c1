import { availableParallelism } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { listen } from '../server/index.js';
import { join } from 'node:path';
import { createLog, type Log } from '../log/index.js';
import { openShards } from '../log/shards/open.js';
import { registerShardTiles } from '../log/shards/tiles.js';
import { openReplicatedLog, type ReplicatedLog } from '../log/replicated.js';
import { rekorCheckpointSigner, checkpointName } from './checkpoint.js';
import { loadOrCreateLogKey, logIdentity, readLogKeyFile, type LogKey } from './log-key.js';
import { createWorkerPool, inlineWorkers, type RekorWorkers } from './pool.js';
import { createRekorApp, DEFAULT_MAX_IN_FLIGHT } from './app.js';
import { RekorService, rekorSetAttestor } from './service.js';
import { ShardSet } from './shards.js';

export const DEFAULT_LOG_PORT = 3000;
export const DEFAULT_LOG_HOST = '127.0.0.1';
export { DEFAULT_MAX_IN_FLIGHT };

/** Where the tree lives: SQLite files in the data directory (one process), or PostgreSQL (several replicas). */
export type LogStoreConfig =
  | { kind: 'sqlite' }
  | {
      kind: 'postgres';
      databaseUrl: string;
      /** PostgreSQL schema of the log (default sigil_log). */
      schema?: string;
      /** false: this replica never takes the sequencer role. */
      sequence?: boolean;
    };

export interface LogServerConfig {
  /** Holds the signing key (PKCS#8, 0600), the tiles and, for SQLite, the log (one database per shard, see src/log/shards). */
  dataDir: string;
  /** Default SQLite in dataDir. */
  store?: LogStoreConfig;
  /** PKCS#8 PEM of the log key shared by the replicas (default: dataDir/log-signing-key.pem, created if absent). */
  logKeyFile?: string;
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
  /** PostgreSQL: whether this replica sequences now. */
  role?: () => 'sequencer' | 'follower';
  close(): Promise<void>;
}

/** The opened log of one store kind, with what the server adds for it and how to give it back. */
interface OpenedLog {
  log: Log;
  shards: ShardSet;
  tilesDir: string;
  register(app: FastifyInstance): void;
  role?: () => 'sequencer' | 'follower';
  close(): Promise<void>;
}

type Attest = ReturnType<typeof rekorSetAttestor>;

async function openSqlite(
  config: LogServerConfig,
  key: LogKey,
  name: string,
  attest: (offset: number) => Attest,
): Promise<OpenedLog> {
  const shards = await openShards(config.dataDir);
  const { store, offset } = shards.active;
  try {
    const { treeId } = await store.load();
    const log = await createLog({
      store,
      signTreeHead: rekorCheckpointSigner(key, name, treeId),
      attest: attest(offset),
    });
    return {
      log,
      shards: new ShardSet(log, offset, shards.inactive),
      tilesDir: join(config.dataDir, shards.active.record.tiles),
      register: (app) => registerShardTiles(app, config.dataDir, shards),
      close: async () => {
        await log.close();
        await shards.closeInactive();
      },
    };
  } catch (e) {
    await store.close().catch(() => undefined);
    await shards.closeInactive();
    throw e;
  }
}

async function openPostgres(
  config: LogServerConfig,
  store: Extract<LogStoreConfig, { kind: 'postgres' }>,
  key: LogKey,
  name: string,
  attest: Attest,
): Promise<OpenedLog> {
  const log: ReplicatedLog = await openReplicatedLog({
    databaseUrl: store.databaseUrl,
    ...(store.schema ? { schema: store.schema } : {}),
    ...(store.sequence === false ? { sequence: false } : {}),
    signerFor: (treeId) => rekorCheckpointSigner(key, name, treeId),
    attest,
    identity: logIdentity(key, name),
  });
  return {
    log,
    shards: new ShardSet(log),
    tilesDir: join(config.dataDir, 'tiles'),
    register: () => undefined,
    role: () => log.role(),
    close: () => log.close(),
  };
}

/** Opens (or creates) the log over its store and serves the Rekor v1 API, explorer and tiles on it. */
export async function createLogServer(config: LogServerConfig): Promise<LogServer> {
  const host = config.host ?? DEFAULT_LOG_HOST;
  const key = config.logKeyFile ? readLogKeyFile(config.logKeyFile) : loadOrCreateLogKey(config.dataDir);
  const name = checkpointName(config.publicUrl ?? `http://${host.includes(':') ? `[${host}]` : host}`);
  let workers: RekorWorkers | undefined;
  const attest = (offset: number): Attest => rekorSetAttestor(() => workers, key.logId, offset);
  const store = config.store ?? { kind: 'sqlite' };
  const opened =
    store.kind === 'postgres'
      ? await openPostgres(config, store, key, name, attest(0))
      : await openSqlite(config, key, name, attest);
  const { log } = opened;
  let app: FastifyInstance | undefined;
  try {
    const keyPem = key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const size = config.workers ?? availableParallelism();
    workers = size > 0 ? await createWorkerPool(size, keyPem) : inlineWorkers(keyPem);
    const svc = new RekorService(log, workers, key, opened.shards);
    let publicUrl = config.publicUrl?.replace(/\/+$/, '') ?? '';
    app = createRekorApp(svc, {
      baseUrl: () => publicUrl,
      ...(config.bodyLimit !== undefined ? { bodyLimit: config.bodyLimit } : {}),
      logLevel: config.logLevel ?? 'warn',
      maxInFlight: config.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT,
      ...(config.tls ? { tls: config.tls } : {}),
    });
    void app.register(import('./explorer.js'));
    void app.register(import('../log/tiles/routes.js'), { log, dir: opened.tilesDir }); // C2SP tlog-tiles
    opened.register(app);
    const url = await listen(app, config.port ?? DEFAULT_LOG_PORT, host);
    if (!publicUrl) publicUrl = url;
    const running = { app, workers };
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
      ...(opened.role ? { role: opened.role } : {}),
      close: async () => {
        await running.app.close();
        await opened.close();
        await running.workers.close();
      },
    };
  } catch (e) {
    await app?.close().catch(() => undefined);
    await workers?.close().catch(() => undefined);
    await opened.close().catch(() => undefined);
    throw e;
  }
}
