import pg from 'pg';
import { SigilError } from '../../../errors/index.js';

const INT8_OID = 20;

/** bigint columns as JS numbers: indexes and sizes stay below 2^53 by the log's own bounds. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
};

function settings(databaseUrl: string, applicationName: string): pg.ClientConfig {
  checkDatabaseUrl(databaseUrl);
  return {
    connectionString: databaseUrl,
    // The pid lets an operator (and the failover test) see which process holds the sequencer lock.
    application_name: `${applicationName}:${process.pid}`,
    // Durable before acknowledgment: a COMMIT returns only after its WAL is flushed locally
    // (and on synchronous standbys, if the server has any), whatever the server default.
    options: '-c synchronous_commit=on',
    types,
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
  };
}

export function checkDatabaseUrl(databaseUrl: string): void {
  let u: URL;
  try {
    u = new URL(databaseUrl);
  } catch {
    throw new SigilError('INVALID_INPUT', 'database URL is not a URL (postgres://user@host:port/db)');
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new SigilError('INVALID_INPUT', 'database URL must start with postgres:// or postgresql://');
  }
}

/** host:port/db of a database URL, never its credentials. */
export function describeDatabaseUrl(databaseUrl: string): string {
  const u = new URL(databaseUrl);
  return `postgres://${u.host}${u.pathname}`;
}

export function newPool(databaseUrl: string, max: number): pg.Pool {
  const pool = new pg.Pool({ ...settings(databaseUrl, 'sigil-log'), max, idleTimeoutMillis: 30_000 });
  // An idle client's connection error must not crash the process; the next query reports it.
  pool.on('error', () => undefined);
  return pool;
}

export async function connectClient(databaseUrl: string, applicationName: string): Promise<pg.Client> {
  const client = new pg.Client(settings(databaseUrl, applicationName));
  try {
    await client.connect();
  } catch (e) {
    await client.end().catch(() => undefined);
    throw new SigilError(
      'UNAVAILABLE',
      `cannot connect to ${describeDatabaseUrl(databaseUrl)}: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  return client;
}
