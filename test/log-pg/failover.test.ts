import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromBase64 } from '../../src/crypto/index.js';
import { leafHash, rootOf } from '../../src/merkle/index.js';
import { exited, hashedRekord, post, tempDir } from '../rekor/helpers.js';
import { requirePostgres, sql, testDatabase } from './helpers.js';
import { migrateCli, sequencerPid, spawnReplica, type Replica } from './replicas.js';

interface Ack {
  index: number;
  leafHash: string;
  size: number;
  root: string;
  replica: number;
  at: number;
}

const CLIENTS = 12;

test('SIGKILL of the sequencing replica under load: another takes over within seconds, no acknowledged entry lost, no index reused', async (t) => {
  if (!(await requirePostgres(t))) return;
  // Registered before the database's own cleanup, so that the replicas are gone before it is dropped.
  const replicas: Replica[] = [];
  t.after(() => {
    for (const r of replicas) r.proc.kill('SIGKILL');
  });
  const db = await testDatabase(t);
  assert.match(migrateCli(db), /log schema sigil_log is ready \(tree ID \d+\)/);
  const dataDir = tempDir(t); // the shared signing key
  replicas.push(await spawnReplica(db, dataDir));
  replicas.push(...(await Promise.all([spawnReplica(db, dataDir), spawnReplica(db, dataDir)])));
  const firstPid = await sequencerPid(db);
  const seqIndex = replicas.findIndex((r) => r.proc.pid === firstPid);
  assert.ok(seqIndex >= 0, 'one of the replicas holds the sequencer lock');
  const alive = new Set([0, 1, 2]);

  const acks: Ack[] = [];
  let errors = 0;
  let stop = false;
  const client = async (c: number): Promise<void> => {
    let n = 0;
    while (!stop) {
      const live = [...alive];
      const r = live[(c + n++) % live.length]!;
      try {
        const res = await post(replicas[r]!.url, '/api/v1/log/entries', hashedRekord().entry);
        if (res.status !== 201) {
          errors += 1;
          await res.arrayBuffer();
          continue;
        }
        const map = (await res.json()) as Record<
          string,
          {
            body: string;
            logIndex: number;
            verification: { inclusionProof: { treeSize: number; rootHash: string } };
          }
        >;
        const e = Object.values(map)[0]!;
        acks.push({
          index: e.logIndex,
          leafHash: leafHash(fromBase64(e.body, 'body')).toString('hex'),
          size: e.verification.inclusionProof.treeSize,
          root: e.verification.inclusionProof.rootHash,
          replica: r,
          at: Date.now(),
        });
      } catch {
        errors += 1; // connection refused or reset by the kill: not acknowledged
        await new Promise((res) => setTimeout(res, 20));
      }
    }
  };
  const load = Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));

  await new Promise((r) => setTimeout(r, 3000));
  const beforeKill = acks.length;
  assert.ok(beforeKill > 20, `entries were acknowledged before the kill (${beforeKill})`);
  assert.ok(
    acks.some((a) => a.replica !== seqIndex),
    'replicas that do not sequence acknowledged entries too',
  );
  const killedAt = Date.now();
  replicas[seqIndex]!.proc.kill('SIGKILL');
  alive.delete(seqIndex);
  await exited(replicas[seqIndex]!.proc);

  let newPid: number | undefined;
  while (Date.now() - killedAt < 15_000) {
    newPid = await sequencerPid(db);
    if (newPid !== undefined && newPid !== firstPid) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const takeover = Date.now() - killedAt;
  assert.ok(newPid !== undefined && newPid !== firstPid, 'another replica took the sequencer lock');
  assert.ok(takeover < 10_000, `takeover took ${takeover} ms`);
  // Load continues on the survivors.
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && acks.filter((a) => a.at > killedAt + takeover).length < 30) {
    await new Promise((r) => setTimeout(r, 100));
  }
  stop = true;
  await load;
  const firstAckAfter = acks.filter((a) => a.at > killedAt).map((a) => a.at - killedAt)[0];
  t.diagnostic(
    `acks ${acks.length} (before kill ${beforeKill}), errors ${errors}, lock takeover ${takeover} ms, first ack after kill +${firstAckAfter} ms`,
  );
  assert.ok(
    acks.filter((a) => a.at > killedAt + takeover).length >= 30,
    'the survivors keep acknowledging after takeover',
  );

  // Let the survivors drain whatever was queued, then check the stored tree.
  const survivor = replicas[[...alive][0]!]!;
  let pending = 1;
  for (let i = 0; i < 100 && pending > 0; i++) {
    pending = Number((await sql<{ n: string }>(db, 'SELECT count(*) AS n FROM sigil_log.pending'))[0]!.n);
    if (pending > 0) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(pending, 0, 'the pending queue drains');
  const rows = await sql<{ idx: string; leaf_hash: Buffer }>(
    db,
    'SELECT idx, leaf_hash FROM sigil_log.entries ORDER BY idx',
  );
  const head = (
    await sql<{ size: string; root_hash: Buffer }>(db, 'SELECT size, root_hash FROM sigil_log.tree_head')
  )[0]!;
  const leaves = rows.map((r) => r.leaf_hash);
  assert.equal(Number(head.size), rows.length, 'tree head covers exactly the stored entries');
  rows.forEach((r, i) => assert.equal(Number(r.idx), i, 'indexes are dense'));
  assert.ok(rootOf(leaves).equals(head.root_hash), 'the stored tree head is the root of the stored leaves');

  assert.equal(new Set(acks.map((a) => a.index)).size, acks.length, 'no index acknowledged twice');
  for (const a of acks) {
    assert.equal(
      leaves[a.index]?.toString('hex'),
      a.leafHash,
      `acknowledged entry ${a.index} is stored at its index`,
    );
  }
  for (const size of new Set(acks.map((a) => a.size))) {
    const root = acks.find((a) => a.size === size)!.root;
    assert.equal(
      rootOf(leaves.slice(0, size)).toString('hex'),
      root,
      `acknowledged tree head ${size} is a prefix of the tree`,
    );
  }
  // A survivor serves every entry, with a proof against its latest head.
  const res = await fetch(`${survivor.url}/api/v1/log`);
  assert.equal(((await res.json()) as { treeSize: number }).treeSize, rows.length);
});
