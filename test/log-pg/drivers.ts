import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { openSqliteStore, type LogStore } from '../../src/log/index.js';
import { migratePostgres, openPostgresStore } from '../../src/log/store/pg/store.js';
import { requirePostgres, testDatabase } from './helpers.js';

/** Opens the store of one log again and again (after close); each driver under test provides one. */
export type StoreOpener = () => Promise<LogStore>;

export interface Driver {
  name: string;
  /** A fresh, empty log's opener; undefined when the driver is unavailable here (test skipped). */
  fresh(t: TestContext): Promise<StoreOpener | undefined>;
}

export const sqliteDriver: Driver = {
  name: 'sqlite',
  async fresh(t) {
    const dir = mkdtempSync(join(tmpdir(), 'sigil-log-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    return () => openSqliteStore({ dir });
  },
};

export const postgresDriver: Driver = {
  name: 'postgres',
  async fresh(t) {
    if (!(await requirePostgres(t))) return undefined;
    const url = await testDatabase(t);
    await migratePostgres(url);
    return () => openPostgresStore({ databaseUrl: url });
  },
};

export const DRIVERS: Driver[] = [sqliteDriver, postgresDriver];
