import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLog } from '../../src/log/index.js';
import { migratePostgres, openPostgresStore } from '../../src/log/store/pg/store.js';
import { requirePostgres, sql, testDatabase } from './helpers.js';

const signer = (size: number, root: Buffer, ts: number): string =>
  `t\n${size}\n${root.toString('base64')}\n${ts}\n`;

test('schema 1 (index keys filed by text) migrates to schema 2 (by digest): every key still finds its entries, and only them', async (t) => {
  if (!(await requirePostgres(t))) return;
  const db = await testDatabase(t);
  await migratePostgres(db);
  const log = await createLog({ store: await openPostgresStore({ databaseUrl: db }), signTreeHead: signer });
  for (let i = 0; i < 5; i++)
    await log.append(Buffer.from(`entry ${i}`), {
      indexKeys: [`user${i % 2}@example.com`, `sha256:${i}`, 'ü-ñ'],
    });
  await log.close();

  // Turn the database back into the schema 1 layout.
  await sql(
    db,
    `ALTER TABLE sigil_log.index_keys RENAME TO k2;
     CREATE TABLE sigil_log.index_keys (key text NOT NULL, idx bigint NOT NULL, PRIMARY KEY (key, idx));
     INSERT INTO sigil_log.index_keys VALUES ('user0@example.com', 0), ('user1@example.com', 1), ('user0@example.com', 2),
       ('user1@example.com', 3), ('user0@example.com', 4), ('sha256:0', 0), ('sha256:3', 3), ('ü-ñ', 1), ('ü-ñ', 4);
     DROP TABLE sigil_log.k2;
     UPDATE sigil_log.meta SET value = '1' WHERE key = 'schema';`,
  );
  await assert.rejects(openPostgresStore({ databaseUrl: db }), /not at version 2/);
  await migratePostgres(db);
  await migratePostgres(db); // idempotent
  assert.deepEqual(await sql(db, `SELECT value FROM sigil_log.meta WHERE key = 'schema'`), [{ value: '2' }]);

  const reopened = await createLog({
    store: await openPostgresStore({ databaseUrl: db }),
    signTreeHead: signer,
  });
  try {
    assert.deepEqual(await reopened.lookupIndexKey('user0@example.com'), [0, 2, 4]);
    assert.deepEqual(await reopened.lookupIndexKey('user1@example.com'), [1, 3]);
    assert.deepEqual(await reopened.lookupIndexKey('sha256:3'), [3]);
    assert.deepEqual(await reopened.lookupIndexKey('ü-ñ'), [1, 4]);
    assert.deepEqual(await reopened.lookupIndexKey('sha256:1'), []);
    const next = await reopened.append(Buffer.from('entry 5'), { indexKeys: ['user1@example.com'] });
    assert.equal(next.entry.index, 5);
    assert.deepEqual(await reopened.lookupIndexKey('user1@example.com'), [1, 3, 5]);
  } finally {
    await reopened.close();
  }
});

test('migrate adds the covering index that proofs read leaf hashes through to a schema-2 database made before it', async (t) => {
  if (!(await requirePostgres(t))) return;
  const db = await testDatabase(t);
  await migratePostgres(db);
  const indexes = async (): Promise<string[]> =>
    (
      await sql<{ indexdef: string }>(
        db,
        `SELECT indexdef FROM pg_indexes WHERE schemaname = 'sigil_log' AND tablename = 'entries'`,
      )
    ).map((r) => r.indexdef);
  const covering = (defs: string[]): boolean => defs.some((d) => /\(idx\) INCLUDE \(leaf_hash\)/.test(d));
  assert.ok(covering(await indexes()), 'a fresh schema has it');
  await sql(db, 'DROP INDEX sigil_log.entries_idx_leaf_hash');
  assert.ok(!covering(await indexes()));
  await migratePostgres(db);
  assert.ok(covering(await indexes()), 'migrate restores it');
  assert.deepEqual(await sql(db, `SELECT value FROM sigil_log.meta WHERE key = 'schema'`), [{ value: '2' }]);
});
