import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import { SigilError } from '../errors/index.js';
import { closeOnSignals, listen } from '../server/index.js';
import {
  DEFAULT_PG_SCHEMA,
  migratePostgres,
  openReplicatedLog,
  type ReplicatedLog,
} from '../log/store/postgres.js';
import { checkDatabaseUrl } from '../log/store/pg/connect.js';
import { rekorCheckpointSigner, checkpointName } from '../rekor/checkpoint.js';
import { loadOrCreateLogKey } from '../rekor/log-key.js';
import { createWorkerPool, inlineWorkers, type RekorWorkers } from '../rekor/pool.js';
import { createRekorApp } from '../rekor/app.js';
import { DEFAULT_LOG_HOST, DEFAULT_LOG_PORT } from '../rekor/server.js';
import { RekorService } from '../rekor/service.js';
import { CliError } from './output.js';

export interface PostgresLogServerConfig {
  databaseUrl: string;
  /** PostgreSQL schema of the log (default sigil_log). */
  schema?: string;
  /** Holds the signing key; every replica of one log needs the same key file. */
  dataDir: string;
  host?: string;
  port?: number;
  publicUrl?: string;
  bodyLimit?: number;
  logLevel?: string;
  workers?: number;
  /** false: never take the sequencer role. */
  sequence?: boolean;
}

export interface PostgresLogServer {
  url: string;
  log: ReplicatedLog;
  treeId: string;
  logId: string;
  publicKeyPem: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

/**
 * One replica of the Rekor v1 log over PostgreSQL: the same personality and routes as
 * createLogServer (src/rekor/server.ts), with the replicated log in place of the SQLite one.
 * Replicas take the checkpoint name from --public-url, so give all of them the same one.
 */
export async function createPostgresLogServer(config: PostgresLogServerConfig): Promise<PostgresLogServer> {
  const host = config.host ?? DEFAULT_LOG_HOST;
  const key = loadOrCreateLogKey(config.dataDir);
  const name = checkpointName(config.publicUrl ?? `http://${host.includes(':') ? `[${host}]` : host}`);
  const log = await openReplicatedLog({
    databaseUrl: config.databaseUrl,
    ...(config.schema ? { schema: config.schema } : {}),
    ...(config.sequence === false ? { sequence: false } : {}),
    signerFor: (treeId) => rekorCheckpointSigner(key, name, treeId),
  });
  let workers: RekorWorkers | undefined;
  let app: FastifyInstance | undefined;
  try {
    const keyPem = key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const size = config.workers ?? availableParallelism();
    workers = size > 0 ? await createWorkerPool(size, keyPem) : inlineWorkers(keyPem);
    const svc = new RekorService(log, workers, key);
    let publicUrl = config.publicUrl?.replace(/\/+$/, '') ?? '';
    app = createRekorApp(svc, {
      baseUrl: () => publicUrl,
      ...(config.bodyLimit !== undefined ? { bodyLimit: config.bodyLimit } : {}),
      logLevel: config.logLevel ?? 'warn',
    });
    void app.register(import('../log/tiles/routes.js'), { log, dir: `${config.dataDir}/tiles` });
    const url = await listen(app, config.port ?? DEFAULT_LOG_PORT, host);
    if (!publicUrl) publicUrl = url;
    const opened = { app, workers };
    return {
      url,
      log,
      app,
      treeId: log.treeId,
      logId: key.logId,
      publicKeyPem: key.publicKeyPem,
      close: async () => {
        await opened.app.close();
        await log.close();
        await opened.workers.close();
      },
    };
  } catch (e) {
    await app?.close().catch(() => undefined);
    await workers?.close().catch(() => undefined);
    await log.close().catch(() => undefined);
    throw e;
  }
}

function int(v: string | undefined, flag: string, min: number, max: number): number {
  const n = Number(v);
  if (v === undefined || !/^[0-9]+$/.test(v) || n < min || n > max) {
    throw new CliError(`invalid ${flag} ${JSON.stringify(v)}`, `use an integer from ${min} to ${max}`);
  }
  return n;
}

function databaseUrl(o: Record<string, string | boolean | undefined>): string {
  const url = o.databaseUrl;
  if (typeof url !== 'string' || url === '') {
    throw new CliError(
      '--store postgres needs a database',
      'pass --database-url postgres://user@host:5432/db or set SIGIL_DATABASE_URL',
    );
  }
  try {
    checkDatabaseUrl(url);
  } catch (e) {
    throw new CliError(`--database-url: ${(e as Error).message}`);
  }
  return url;
}

/** `sigil log serve --store postgres …` (the serve command's flags, parsed by commander). */
export async function servePostgres(o: Record<string, string | boolean | undefined>): Promise<void> {
  if (o.store !== 'postgres')
    throw new CliError(`unknown --store ${JSON.stringify(o.store)}`, 'use sqlite or postgres');
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  if (str(o.publicUrl) !== undefined && !/^https?:\/\//.test(str(o.publicUrl)!)) {
    throw new CliError('--public-url must be an http(s) URL');
  }
  const server = await createPostgresLogServer({
    databaseUrl: databaseUrl(o),
    schema: str(o.schema) ?? DEFAULT_PG_SCHEMA,
    dataDir: str(o.dataDir) ?? '.sigil',
    host: str(o.host),
    port: int(str(o.port), '--port', 0, 65535),
    bodyLimit: int(str(o.bodyLimit), '--body-limit', 1024, 1024 * 1024 * 1024),
    ...(str(o.publicUrl) ? { publicUrl: str(o.publicUrl) } : {}),
    ...(str(o.workers) !== undefined ? { workers: int(str(o.workers), '--workers', 0, 64) } : {}),
    logLevel: process.env.SIGIL_LOG_LEVEL ?? 'warn',
  }).catch((e: unknown) => {
    if (e instanceof SigilError && e.code === 'STORAGE_FAILURE' && /migrate/.test(e.message)) {
      throw new CliError(e.message, 'run `sigil log migrate --database-url …` once before the first serve');
    }
    throw e;
  });
  process.stdout.write(
    `sigil log listening on ${server.url}\nsigil log: postgres replica (tree ${server.treeId}), now ${server.log.role()}\n`,
  );
  closeOnSignals(() => server.close());
}

/** `sigil log migrate --database-url URL [--schema NAME]`. */
export function registerMigrate(log: Command): void {
  log
    .command('migrate')
    .description(
      'create or check the PostgreSQL schema of the log (run once before `log serve --store postgres`)',
    )
    .option('--database-url <url>', 'PostgreSQL URL (env SIGIL_DATABASE_URL)', process.env.SIGIL_DATABASE_URL)
    .option('--schema <name>', 'PostgreSQL schema of the log', DEFAULT_PG_SCHEMA)
    .action(async (o: Record<string, string | undefined>) => {
      const treeId = await migratePostgres(databaseUrl(o), o.schema);
      process.stdout.write(`log schema ${o.schema} is ready (tree ID ${treeId})\n`);
    });
}
