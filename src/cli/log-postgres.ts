import type { Command } from 'commander';
import { SigilError } from '../errors/index.js';
import { DEFAULT_PG_SCHEMA, migratePostgres } from '../log/store/postgres.js';
import { checkDatabaseUrl } from '../log/store/pg/connect.js';
import type { LogStoreConfig } from '../rekor/server.js';
import { CliError } from './output.js';

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

/** A replica started on a database that was never migrated: say how to fix it. */
export function migrateHint(e: unknown): never {
  if (e instanceof SigilError && e.code === 'STORAGE_FAILURE' && /migrate/.test(e.message)) {
    throw new CliError(e.message, 'run `sigil log migrate --database-url …` once before the first serve');
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
    .option('--database-url <url>', 'PostgreSQL URL (env SIGIL_DATABASE_URL)', process.env.SIGIL_DATABASE_URL)
    .option('--schema <name>', 'PostgreSQL schema of the log', DEFAULT_PG_SCHEMA)
    .action(async (o: Record<string, string | undefined>) => {
      const treeId = await migratePostgres(databaseUrl(o), o.schema);
      process.stdout.write(`log schema ${o.schema} is ready (tree ID ${treeId})\n`);
    });
}
