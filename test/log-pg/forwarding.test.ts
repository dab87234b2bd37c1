import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { DEFAULT_PG_SCHEMA, migratePostgres, pendingChannel } from '../../src/log/store/pg/store.js';
import { openReplicatedLog } from '../../src/log/replicated.js';
import type { StoredEntry } from '../../src/log/types.js';
import { leafHash, verifyInclusion } from '../../src/merkle/index.js';
import { assertProof, textSigner } from '../log/helpers.js';
import { requirePostgres, testDatabase } from './helpers.js';

// The fallback poll is set far beyond the test's time, so only notifications move forwarded
// appends: a wake-up the sequencer loses (a notification during its last commit), or a queue row
// it skips (a lower id committed after a higher one was read), stalls appends until they time out.
test('a forwarding replica under concurrent load: every append is integrated promptly through notifications alone', async (t) => {
  if (!(await requirePostgres(t))) return;
  const url = await testDatabase(t);
  await migratePostgres(url);
  const common = { databaseUrl: url, signerFor: () => textSigner, pollMs: 600_000, appendTimeoutMs: 20_000 };
  const sequencer = await openReplicatedLog(common);
  t.after(() => sequencer.close());
  const follower = await openReplicatedLog({ ...common, sequence: false });
  t.after(() => follower.close());
  assert.equal(sequencer.role(), 'sequencer');
  assert.equal(follower.role(), 'follower');

  // One client appending in turn (each append waits for the previous one's commit), then many at once.
  // After each answer, the sequencer must serve a proof at the size it advertises: its database
  // head can run a batch ahead of its core, which serves the reads.
  let slowest = 0;
  const unservable: string[] = [];
  let first: StoredEntry | undefined;
  const probeSequencer = async (): Promise<void> => {
    const head = sequencer.latestTreeHead();
    first ??= (await sequencer.getEntries(0, 1))[0];
    try {
      const proof = await sequencer.inclusionProof(0, head.size);
      if (!first || !verifyInclusion(0, head.size, first.leafHash, proof, head.rootHash))
        unservable.push(`size ${head.size}: the proof does not verify`);
    } catch (e) {
      unservable.push(`size ${head.size}: ${(e as Error).message}`);
    }
  };
  const run = (clients: number, perClient: number, tag: string) =>
    Promise.all(
      Array.from({ length: clients }, async (_, c) => {
        const out = [];
        for (let i = 0; i < perClient; i++) {
          const t0 = performance.now();
          out.push(await follower.append(Buffer.from(`forwarded ${tag} ${c}:${i}`)));
          slowest = Math.max(slowest, performance.now() - t0);
          await probeSequencer();
        }
        return out;
      }),
    );
  const results = [...(await run(1, 100, 'serial')), ...(await run(32, 20, 'concurrent'))];
  const all = results.flat();
  assert.equal(all.length, 100 + 32 * 20);
  assert.ok(all.every((r) => !r.duplicate));
  assert.equal(new Set(all.map((r) => r.entry.index)).size, all.length, 'indexes are distinct');
  assert.ok(slowest < 5_000, `slowest forwarded append took ${Math.round(slowest)} ms`);
  for (const r of all.slice(0, 20)) assertProof(r);
  // The follower learns of a commit by the notification sent inside it, so it can answer before the
  // sequencer's own commit call has returned and moved its in-memory head: wait for that, bounded.
  assert.equal(follower.latestTreeHead().size, all.length);
  for (let i = 0; i < 100 && sequencer.latestTreeHead().size < all.length; i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(sequencer.latestTreeHead().size, all.length);
  assert.deepEqual(unservable, [], 'the sequencer serves proofs at every size it advertises');
  const last = all.reduce((a, b) => (b.entry.index > a.entry.index ? b : a));
  const treeHead = sequencer.latestTreeHead();
  assertProof({
    ...last,
    treeHead,
    inclusionProof: await sequencer.inclusionProof(last.entry.index, treeHead.size),
  });
});

test('a queued append whose transaction commits after a later one is still integrated (queue ids are drawn before commit)', async (t) => {
  if (!(await requirePostgres(t))) return;
  const url = await testDatabase(t);
  await migratePostgres(url);
  const sequencer = await openReplicatedLog({
    databaseUrl: url,
    signerFor: () => textSigner,
    pollMs: 600_000,
  });
  t.after(() => sequencer.close());
  const early = new pg.Client({ connectionString: url });
  const late = new pg.Client({ connectionString: url });
  await early.connect();
  await late.connect();
  const insert = (c: pg.Client, leaf: Buffer) =>
    c.query(`INSERT INTO ${DEFAULT_PG_SCHEMA}.pending (leaf_hash, leaf, index_keys) VALUES ($1, $2, '[]')`, [
      leafHash(leaf),
      leaf,
    ]);
  const notify = (c: pg.Client) =>
    c.query('SELECT pg_notify($1, $2)', [pendingChannel(DEFAULT_PG_SCHEMA), '']);
  const until = async (leaf: Buffer): Promise<boolean> => {
    for (let i = 0; i < 100; i++) {
      if (await sequencer.findByLeafHash(leafHash(leaf))) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return false;
  };

  // `early` draws the lower id but commits last; the sequencer reads the higher id first.
  const a = Buffer.from('drawn first, committed last');
  const b = Buffer.from('drawn last, committed first');
  try {
    await early.query('BEGIN');
    await insert(early, a);
    await insert(late, b);
    await notify(late);
    assert.ok(await until(b), 'the committed row is integrated');
    await notify(early);
    await early.query('COMMIT');
    assert.ok(await until(a), 'the row committed later under a lower id is integrated too');
    assert.equal(sequencer.latestTreeHead().size, 2);
  } finally {
    await Promise.all([early.end(), late.end()]);
  }
});
