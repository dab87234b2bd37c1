import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { createLog, openSqliteStore, SQLITE_FILE_NAME, type Log } from '../../src/log/index.js';
import type { SqliteLogStore } from '../../src/log/store/sqlite/sqlite.js';
import { leafHash } from '../../src/merkle/index.js';
import { tempDir, textSigner } from './helpers.js';
import { checkLookups, counterOf, LOOKUP_TUNING, lookupKeys, lookupLeaf } from './lookup-helpers.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const keysOfLeaf = (leaf: Buffer): string[] => lookupKeys(counterOf(leaf));

async function openInThread(dir: string): Promise<{ log: Log; store: SqliteLogStore }> {
  const store = (await openSqliteStore({ dir, worker: false, lookup: LOOKUP_TUNING })) as SqliteLogStore;
  return { log: await createLog({ store, signTreeHead: textSigner, maxBatch: 24 }), store };
}

async function settle(store: SqliteLogStore): Promise<void> {
  while (!store.lookupStats().idle) await new Promise((r) => setImmediate(r));
}

async function appendRange(log: Log, from: number, to: number): Promise<void> {
  await Promise.all(
    Array.from({ length: to - from }, (_, i) =>
      log.append(lookupLeaf(from + i), { indexKeys: lookupKeys(from + i) }),
    ),
  );
}

test('lookups stay exact while entries move from the memtable into runs and runs merge', async (t) => {
  const dir = tempDir(t);
  const { log, store } = await openInThread(dir);
  const seen = { runs: 0, merging: 0, garbage: 0 };
  for (let from = 0; from < 400; from += 40) {
    await appendRange(log, from, from + 40);
    // Checked at whatever point the background steps have reached, not only when idle.
    await checkLookups(log, keysOfLeaf);
    // One background step per turn of the event loop; spot checks after each.
    for (let i = 0; i < 40; i++) {
      await new Promise((r) => setImmediate(r));
      const s = store.lookupStats();
      seen.runs = Math.max(seen.runs, s.runs);
      seen.merging = Math.max(seen.merging, s.merging);
      seen.garbage = Math.max(seen.garbage, s.garbage);
      const n = (i * 37) % (from + 40);
      assert.equal((await log.findByLeafHash(leafHash(lookupLeaf(n))))?.index, n);
      assert.deepEqual(
        await log.lookupIndexKey(`pair:${Math.floor(n / 2)}`),
        [n & ~1, n | 1].filter((x) => x < from + 40 && x % 11 !== 5),
      );
    }
  }
  const counts = store.lookupStats();
  assert.ok(counts.flushes >= 15 && counts.merges >= 10, JSON.stringify(counts));
  assert.ok(seen.runs >= 3 && seen.merging >= 1 && seen.garbage >= 1, JSON.stringify(seen));

  // Duplicates across the boundary: leaves in runs, in the memtable and in flight all at once.
  const again = [0, 1, 17, 150, 300, 398, 399].map((n) =>
    log.append(lookupLeaf(n), { indexKeys: lookupKeys(n) }),
  );
  const fresh = log.append(lookupLeaf(400), { indexKeys: lookupKeys(400) });
  const results = await Promise.all(again);
  for (const r of results) {
    assert.equal(r.duplicate, true);
    assert.equal(r.entry.index, counterOf(r.entry.leaf), 'the existing entry is returned');
  }
  assert.equal((await fresh).duplicate, false);
  assert.equal(log.latestTreeHead().size, 401);

  await settle(store);
  const idle = store.lookupStats();
  assert.equal(idle.garbage, 0);
  assert.ok(idle.memtable < LOOKUP_TUNING.flushAt, `memtable ${idle.memtable} was flushed`);
  assert.ok(idle.runs <= 12, `${idle.runs} runs after merging`);
  const keys = await checkLookups(log, keysOfLeaf);
  assert.ok(keys > 400);
  await log.close();

  const reopened = await openInThread(dir);
  assert.equal(reopened.log.latestTreeHead().size, 401);
  await checkLookups(reopened.log, keysOfLeaf);
  assert.equal((await reopened.log.append(lookupLeaf(7))).duplicate, true);
  await reopened.log.close();
});

test('the store itself refuses (DUPLICATE_ENTRY) a batch whose leaf hash is already stored', async (t) => {
  const dir = tempDir(t);
  const { log, store } = await openInThread(dir);
  await appendRange(log, 0, 60);
  await settle(store);
  const head = log.latestTreeHead();
  for (const n of [3, 59]) {
    const leaf = lookupLeaf(n);
    await assert.rejects(
      store.commitBatch({
        previousSize: head.size,
        entries: [{ index: head.size, leaf, leafHash: leafHash(leaf), integratedTime: 1, indexKeys: [] }],
        nodes: [],
        treeHead: { ...head, size: head.size + 1 },
      }),
      (e: unknown) => (e as { code?: string }).code === 'DUPLICATE_ENTRY',
    );
  }
  assert.equal((await store.getEntries(head.size, 1)).length, 0, 'nothing written');
  await checkLookups(log, keysOfLeaf);
  await log.close();
});

interface Ack {
  index: number;
  n: number;
}

/**
 * Runs the appending child until it has acknowledged `count` appends, then SIGKILLs it mid-work
 * (flushes and merges under way). A count, not a time: the amount of work, and so the cost of
 * checking it, must not grow with the machine's speed.
 */
async function appendThenKill(dir: string, start: number, count: number): Promise<Ack[]> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(FIXTURES, 'append-lookup.ts'), dir, String(start)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const acks: Ack[] = [];
  let buffered = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child acknowledged only ${acks.length} of ${count} appends in 120 s: ${stderr}`));
    }, 120_000);
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const [kind, a, b] = line.split(' ');
        if (kind === 'ack') acks.push({ index: Number(a), n: Number(b) });
      }
      if (acks.length >= count && child.kill('SIGKILL')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`child exited early (${code}): ${stderr}`));
    });
  });
  await exited;
  return acks;
}

test('after SIGKILL during flushes and merges, every acknowledged leaf and key is found', async (t) => {
  const dir = tempDir(t);
  const acked: Ack[] = [];
  for (let round = 0; round < 2; round++) {
    const acks = await appendThenKill(dir, round * 1_000_000, 3000 + round * 1000);
    assert.ok(acks.length >= 3000 + round * 1000, `round ${round}: only ${acks.length} acknowledged`);
    acked.push(...acks);

    const { log, store } = await openInThread(dir);
    for (const a of acked) {
      const leaf = lookupLeaf(a.n);
      const found = await log.findByLeafHash(leafHash(leaf));
      assert.equal(found?.index, a.index, `acknowledged leaf ${a.n} found at ${a.index}`);
      for (const k of lookupKeys(a.n)) {
        if (k.startsWith('own:')) assert.deepEqual(await log.lookupIndexKey(k), [a.index]);
      }
    }
    // Search answers equal a recomputation over everything stored (acknowledged or not).
    let t0 = performance.now();
    await checkLookups(log, keysOfLeaf, [1, 1000]);
    t.diagnostic(
      `round ${round}: ${acked.length} acknowledged, checked in ${Math.round(performance.now() - t0)} ms`,
    );
    const dup = acked[Math.floor(acked.length / 2)]!;
    const r = await log.append(lookupLeaf(dup.n), { indexKeys: lookupKeys(dup.n) });
    assert.equal(r.duplicate, true);
    assert.equal(r.entry.index, dup.index);
    // Let the reopened store finish the interrupted work (garbage of a half-built run, flushes).
    await settle(store);
    assert.equal(store.lookupStats().garbage, 0);
    t0 = performance.now();
    await checkLookups(log, keysOfLeaf, [1000]);
    t.diagnostic(
      `settled ${JSON.stringify(store.lookupStats())}, checked in ${Math.round(performance.now() - t0)} ms`,
    );
    await log.close();
  }
});

test('a schema 1 database is migrated: leaf hashes and index keys move into the lookup runs', async (t) => {
  const dir = tempDir(t);
  const { log } = await openInThread(dir);
  await appendRange(log, 0, 100);
  await log.close();
  // Turn the file back into the schema 1 layout (UNIQUE leaf_hash index, index_keys table).
  const db = new Database(join(dir, SQLITE_FILE_NAME));
  const runs = db.prepare(`SELECT name FROM sqlite_master WHERE name GLOB 'lookup_run_[0-9]*'`).pluck().all();
  assert.ok(runs.length > 0);
  for (const name of runs) db.exec(`DROP TABLE ${name as string}`);
  db.exec(`
    CREATE TABLE v1 (idx INTEGER PRIMARY KEY, leaf_hash BLOB NOT NULL UNIQUE, leaf BLOB NOT NULL,
      integrated_time INTEGER NOT NULL);
    -- schema 1 column order
    INSERT INTO v1 SELECT idx, leaf_hash, leaf, integrated_time FROM entries;
    CREATE TABLE index_keys (key TEXT NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (key, idx)) WITHOUT ROWID;
    INSERT INTO index_keys SELECT j.value, e.idx FROM entries e, json_each(e.index_keys) j;
    DROP TABLE entries; ALTER TABLE v1 RENAME TO entries;
    DROP TABLE lookup_runs;
    UPDATE meta SET value = '1' WHERE key = 'schema';
  `);
  assert.equal((db.prepare('SELECT count(*) FROM index_keys').pluck().get() as number) > 300, true);
  db.close();

  const { log: migrated, store } = await openInThread(dir);
  assert.equal(migrated.latestTreeHead().size, 100);
  await checkLookups(migrated, keysOfLeaf);
  await settle(store);
  await checkLookups(migrated, keysOfLeaf);
  assert.equal((await migrated.append(lookupLeaf(42))).duplicate, true);
  assert.equal((await migrated.append(lookupLeaf(100), { indexKeys: lookupKeys(100) })).entry.index, 100);
  await migrated.close();
  const again = await openInThread(dir);
  await checkLookups(again.log, keysOfLeaf);
  await again.log.close();
});

test('commits that outrun the background steps catch the lookup index up themselves: memory stays bounded', async (t) => {
  const dir = tempDir(t);
  const store = (await openSqliteStore({ dir, worker: false, lookup: LOOKUP_TUNING })) as SqliteLogStore;
  t.after(() => store.close());
  const limit = 16 * LOOKUP_TUNING.flushAt;
  const log = await createLog({ store, signTreeHead: textSigner, maxBatch: 100 });
  let largest = 0;
  // No turn of the event loop between commits: the background steps never get to run.
  for (let from = 0; from < 2000; from += 100) {
    const appends = Array.from({ length: 100 }, (_, i) =>
      log.append(lookupLeaf(from + i), { indexKeys: lookupKeys(from + i) }),
    );
    await Promise.all(appends);
    largest = Math.max(largest, store.lookupStats().memtable);
  }
  assert.ok(largest <= limit + 100, `memtable reached ${largest} entries (limit ${limit} + one batch)`);
  assert.ok(store.lookupStats().flushes >= 5, JSON.stringify(store.lookupStats()));
  await checkLookups(log, keysOfLeaf);
  await log.close();
});
