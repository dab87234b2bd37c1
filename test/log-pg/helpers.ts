import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import pg from 'pg';

export const PG_ADMIN_URL = process.env.SIGIL_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Whether the test PostgreSQL answers; under CI=true its absence is a failure, not a skip. */
export async function requirePostgres(t: TestContext): Promise<boolean> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.end();
    return true;
  } catch (e) {
    await c.end().catch(() => undefined);
    const why = `PostgreSQL is not reachable at ${PG_ADMIN_URL}: ${(e as Error).message}`;
    if (process.env.CI === 'true') throw new Error(why);
    t.skip(why);
    return false;
  }
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A fresh database `sigil_test_<random>`, dropped (with its sessions) when the test ends. */
export async function testDatabase(t: TestContext): Promise<string> {
  const name = `sigil_test_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  t.after(() => dropDatabase(name));
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * Drops a test database with its sessions. WITH (FORCE) ends them and drops in one step: ending
 * them first and dropping after raced replicas (still running, or killed but not yet gone) that
 * reconnected in between ("database … is being accessed by other users").
 */
export async function dropDatabase(name: string): Promise<void> {
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

/** Runs one query on the database (for tests that inspect or forge stored state). */
export async function sql<R extends pg.QueryResultRow = pg.QueryResultRow>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<R>(text, values)).rows;
  } finally {
    await c.end();
  }
}
