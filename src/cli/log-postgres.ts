import type { Command } from 'commander';
import { SigilError } from '../errors/index.js';
import { DEFAULT_PG_SCHEMA, migratePostgres } from '../log/store/pg/store.js';
import { checkDatabaseUrl } from '../log/store/pg/connect.js';
import { logIdentity, readLogKeyFile } from '../rekor/log-key.js';
import type { LogStoreConfig } from '../rekor/server.js';
import { CliError } from './output.js';
import { cliIo } from './io.js';

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

/** `log serve --store sqlite|postgres [--database-url URL] [--schema NAME]` as the server's store config. */
export function storeFlags(o: Record<string, string | undefined>): LogStoreConfig {
  if (o.store === 'sqlite') return { kind: 'sqlite' };
  if (o.store !== 'postgres')
    throw new CliError(`unknown --store ${JSON.stringify(o.store)}`, 'use sqlite or postgres');
  return { kind: 'postgres', databaseUrl: databaseUrl(o), schema: o.schema ?? DEFAULT_PG_SCHEMA };
}

const KEY_HINT =
  'every replica signs with the log key the database records: copy log-signing-key.pem from the first ' +
  "replica's --data-dir, or pass the shared key with --log-key FILE (SIGIL_LOG_KEY_FILE)";

/** A replica that cannot join the log (never migrated, another key, another name): say how to fix it. */
export function replicaHint(e: unknown): never {
  if (e instanceof SigilError && e.code === 'STORAGE_FAILURE' && /migrate/.test(e.message)) {
    throw new CliError(e.message, 'run `sigil log migrate --database-url …` once before the first serve');
  }
  if (e instanceof SigilError && /the log's database records/.test(e.message)) {
    const hint = e.code === 'INVALID_KEY' ? KEY_HINT : 'give every replica the same --public-url';
    throw new CliError(e.message, hint);
  }
  throw e;
}

/** `sigil log migrate --database-url URL [--schema NAME]`. */
export function registerMigrate(log: Command): void {
  log
    .command('migrate')
    .description(
      'create or check the PostgreSQL schema of the log (run once before `log serve --store postgres`)',
    )
    .option('--database-url <url>', 'PostgreSQL URL (env SIGIL_DATABASE_URL)', cliIo().env.SIGIL_DATABASE_URL)
    .option('--schema <name>', 'PostgreSQL schema of the log', DEFAULT_PG_SCHEMA)
    .option(
      '--log-key <file>',
      'record this log signing key (PKCS#8 PEM) as the one every replica must use (env SIGIL_LOG_KEY_FILE)',
      cliIo().env.SIGIL_LOG_KEY_FILE,
    )
    .action(async (o: Record<string, string | undefined>) => {
      const identity = o.logKey ? logIdentity(readLogKeyFile(o.logKey)) : [];
      const treeId = await migratePostgres(databaseUrl(o), o.schema, identity).catch(replicaHint);
      cliIo().stdout.write(`log schema ${o.schema} is ready (tree ID ${treeId})\n`);
    });
}
