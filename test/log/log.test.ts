import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSigilError } from '../../src/errors/index.js';
import { createLog, openSqliteStore, MAX_GET_ENTRIES, type AppendResult } from '../../src/log/index.js';
import { leafHash, rootOf, verifyConsistency, verifyInclusion } from '../../src/merkle/index.js';
import { assertProof, leaf, tempDir, textSigner } from './helpers.js';

test('a fresh log has a signed empty tree head and a persistent tree ID', async (t) => {
  const dir = tempDir(t);
  const log = await createLog({
    store: await openSqliteStore({ dir }),
    signTreeHead: textSigner,
    now: () => 5000,
  });
  const head = log.latestTreeHead();
  assert.equal(head.size, 0);
  assert.equal(head.rootHash.toString('hex'), rootOf([]).toString('hex'));
  assert.equal(head.signed, textSigner(0, head.rootHash, 5000));
  assert.match(log.treeId, /^[1-9][0-9]*$/);
  assert.ok(BigInt(log.treeId) < 2n ** 63n);
  const id = log.treeId;
  await log.close();
  const again = await createLog({ store: await openSqliteStore({ dir }), signTreeHead: textSigner });
  assert.equal(again.treeId, id);
  assert.equal(again.latestTreeHead().signed, head.signed);
  await again.close();
});

for (const worker of [true, false]) {
  test(`concurrent appends share commits, get dense indexes and proofs that verify (worker thread: ${worker})`, async (t) => {
    const dir = tempDir(t);
    const log = await createLog({
      store: await openSqliteStore({ dir, worker }),
      signTreeHead: textSigner,
      maxBatch: 256,
    });
    const results = await Promise.all(Array.from({ length: 500 }, (_, i) => log.append(leaf('a', i))));
    const stats = log.stats();
    assert.equal(stats.appended, 500);
    assert.ok(stats.commits <= 3, `500 appends took ${stats.commits} commits`);
    assert.ok(stats.largestBatch >= 200, `largest batch ${stats.largestBatch}`);
    const indexes = results.map((r) => r.entry.index).sort((a, b) => a - b);
    assert.deepEqual(
      indexes,
      Array.from({ length: 500 }, (_, i) => i),
    );
    for (const r of results) {
      assert.equal(r.duplicate, false);
      assertProof(r);
      assert.equal(r.treeHead.signed, textSigner(r.treeHead.size, r.treeHead.rootHash, r.treeHead.timestamp));
      assert.ok(r.entry.index < r.treeHead.size);
    }
    const head = log.latestTreeHead();
    assert.equal(head.size, 500);
    const leaves = results.sort((a, b) => a.entry.index - b.entry.index).map((r) => r.entry.leafHash);
    assert.ok(head.rootHash.equals(rootOf(leaves)));
    // entries read back are the appended bytes
    const got = await log.getEntries(0, 500);
    assert.equal(got.length, 500);
    for (const e of got) assert.ok(leafHash(e.leaf).equals(e.leafHash));
    await log.close();
  });
}

test('entries, tree head and proofs survive close and reopen; indexes are never reused', async (t) => {
  const dir = tempDir(t);
  const first = await createLog({ store: await openSqliteStore({ dir }), signTreeHead: textSigner });
  const a = await Promise.all(
    Array.from({ length: 300 }, (_, i) => first.append(leaf('b', i), { indexKeys: [`k${i % 7}`] })),
  );
  const headA = first.latestTreeHead();
  await first.close();

  const second = await createLog({ store: await openSqliteStore({ dir }), signTreeHead: textSigner });
  assert.deepEqual(second.latestTreeHead(), headA);
  for (const r of a) {
    const e = await second.getEntry(r.entry.index);
    assert.ok(e && e.leaf.equals(r.entry.leaf) && e.integratedTime === r.entry.integratedTime);
    const byHash = await second.findByLeafHash(r.entry.leafHash);
    assert.equal(byHash?.index, r.entry.index);
  }
  const b = await Promise.all(Array.from({ length: 200 }, (_, i) => second.append(leaf('c', i))));
  const newIndexes = b.map((r) => r.entry.index).sort((x, y) => x - y);
  assert.equal(newIndexes[0], 300);
  assert.equal(newIndexes[199], 499);
  const head = second.latestTreeHead();
  assert.ok(
    verifyConsistency(
      headA.size,
      head.size,
      headA.rootHash,
      head.rootHash,
      await second.consistencyProof(headA.size, head.size),
    ),
  );
  for (const r of [...a, ...b].filter((_, i) => i % 13 === 0)) {
    const proof = await second.inclusionProof(r.entry.index, head.size);
    assert.ok(verifyInclusion(r.entry.index, head.size, r.entry.leafHash, proof, head.rootHash));
  }
  const k3 = await second.lookupIndexKey('k3');
  const expected = a
    .filter((r) => Number(r.entry.leaf.toString().split(':')[1]) % 7 === 3)
    .map((r) => r.entry.index);
  assert.deepEqual(
    k3,
    expected.sort((x, y) => x - y),
  );
  assert.equal(k3.length, 43);
  assert.deepEqual(await second.lookupIndexKey('k3', 2), k3.slice(0, 2));
  assert.deepEqual(await second.lookupIndexKey('absent'), []);
  await second.close();
});

test('proofs and roots at every historical size match a recomputation from the leaves', async (t) => {
  const dir = tempDir(t);
  // Tiny window and hot level so most nodes must come from the store, not from memory.
  const log = await createLog({
    store: await openSqliteStore({ dir }),
    signTreeHead: textSigner,
    maxBatch: 16,
    hotLevel: 3,
    cacheWindow: 16,
  });
  const leaves: Buffer[] = [];
  for (let round = 0; round < 10; round++) {
    const rs = await Promise.all(
      Array.from({ length: 7 + round }, (_, i) => log.append(leaf(`r${round}`, i))),
    );
    for (const r of rs.sort((x, y) => x.entry.index - y.entry.index)) leaves.push(r.entry.leafHash);
  }
  const n = leaves.length;
  for (let size = 0; size <= n; size++) {
    const root = await log.rootAt(size);
    assert.ok(root.equals(rootOf(leaves.slice(0, size))), `root at ${size}`);
    for (let i = 0; i < size; i += 5) {
      assert.ok(
        verifyInclusion(i, size, leaves[i]!, await log.inclusionProof(i, size), root),
        `incl ${i}/${size}`,
      );
    }
    for (let m = 0; m <= size; m += 4) {
      const proof = await log.consistencyProof(m, size);
      assert.ok(verifyConsistency(m, size, rootOf(leaves.slice(0, m)), root, proof), `cons ${m}/${size}`);
    }
  }
  await log.close();
});

test('duplicates, stored or twice in one batch, write nothing and return the existing entry', async (t) => {
  const dir = tempDir(t);
  const log = await createLog({ store: await openSqliteStore({ dir }), signTreeHead: textSigner });
  const original = await log.append(leaf('d', 1), { indexKeys: ['x'] });
  const commits = log.stats().commits;
  const again = await log.append(leaf('d', 1), { indexKeys: ['y'] });
  assert.equal(again.duplicate, true);
  assert.equal(again.entry.index, original.entry.index);
  assert.equal(log.stats().commits, commits, 'a stored duplicate commits nothing');
  assert.equal(log.latestTreeHead().size, 1);
  assert.deepEqual(await log.lookupIndexKey('y'), [], 'a duplicate files no index keys');
  assertProof(again);

  const twice = await Promise.all([
    log.append(leaf('d', 2)),
    log.append(leaf('d', 2)),
    log.append(leaf('d', 3)),
  ]);
  assert.equal(twice[0]!.duplicate, false);
  assert.equal(twice[1]!.duplicate, true);
  assert.equal(twice[0]!.entry.index, twice[1]!.entry.index);
  assert.equal(log.latestTreeHead().size, 3);
  for (const r of twice) assertProof(r);
  assert.equal(log.stats().duplicates, 2);
  await log.close();
});

test('pipelined batches: re-appends of stored and in-flight entries resolve as duplicates of the one entry', async (t) => {
  const dir = tempDir(t);
  const store = await openSqliteStore({ dir });
  assert.equal(store.pipelinedCommits, true, 'the SQLite store takes pipelined commits');
  const log = await createLog({ store, signTreeHead: textSigner, maxBatch: 16 });
  const first = await Promise.all(Array.from({ length: 50 }, (_, i) => log.append(leaf('p', i))));
  // Waves queued in separate turns so several batches are in flight at once; every wave repeats
  // stored leaves (0–49) and leaves of the wave before it, which may still be committing.
  const waves: Promise<AppendResult>[][] = [];
  for (let w = 0; w < 6; w++) {
    const wave = Array.from({ length: 20 }, (_, i) => log.append(leaf('p', 50 + w * 20 + i)));
    wave.push(log.append(leaf('p', w * 7)), log.append(leaf('p', 50 + Math.max(0, w - 1) * 20 + 3)));
    waves.push(wave);
    await new Promise((r) => setImmediate(r));
  }
  const results = [...first, ...(await Promise.all(waves.flat()))];
  const indexOf = new Map<string, number>();
  for (const r of results) {
    assertProof(r);
    const key = r.entry.leafHash.toString('hex');
    const seen = indexOf.get(key);
    if (seen === undefined) indexOf.set(key, r.entry.index);
    else assert.equal(r.entry.index, seen, 'a re-append answers the one entry');
  }
  const size = 50 + 6 * 20;
  assert.equal(log.latestTreeHead().size, size, 'no leaf was stored twice');
  assert.equal(indexOf.size, size);
  assert.equal(results.filter((r) => !r.duplicate).length, size, 'exactly one append per leaf is new');
  const entries = await log.getEntries(0, size);
  assert.ok(rootOf(entries.map((e) => e.leafHash)).equals(log.latestTreeHead().rootHash));
  assert.ok(log.stats().failedCommits >= 1, 'stored duplicates were refused by the store and retried');
  await log.close();
});

test('appends beyond maxPending are refused with PUSHBACK and Retry-After', async (t) => {
  const dir = tempDir(t);
  const log = await createLog({
    store: await openSqliteStore({ dir }),
    signTreeHead: textSigner,
    maxPending: 10,
  });
  const settled = await Promise.allSettled(Array.from({ length: 25 }, (_, i) => log.append(leaf('p', i))));
  const refused = settled.filter((s) => s.status === 'rejected');
  assert.equal(refused.length, 15);
  for (const s of refused) {
    const e = (s as PromiseRejectedResult).reason;
    assert.ok(isSigilError(e, 'PUSHBACK'));
    assert.equal(e.headers?.['retry-after'], '1');
  }
  assert.equal(log.latestTreeHead().size, 10);
  // once drained, appends are accepted again
  assert.equal((await log.append(leaf('p', 100))).entry.index, 10);
  await log.close();
});

test('reads and proofs reject absurd arguments with INVALID_INPUT', async (t) => {
  const dir = tempDir(t);
  const log = await createLog({ store: await openSqliteStore({ dir }), signTreeHead: textSigner });
  await Promise.all([log.append(leaf('q', 0)), log.append(leaf('q', 1))]);
  const invalid = (e: unknown) => isSigilError(e, 'INVALID_INPUT');
  await assert.rejects(log.inclusionProof(2, 2), invalid);
  await assert.rejects(log.inclusionProof(0, 3), invalid);
  await assert.rejects(log.inclusionProof(-1, 2), invalid);
  await assert.rejects(log.inclusionProof(0.5, 2), invalid);
  await assert.rejects(log.consistencyProof(2, 1), invalid);
  await assert.rejects(log.consistencyProof(1, 2 ** 60), invalid);
  await assert.rejects(log.rootAt(3), invalid);
  await assert.rejects(log.getEntries(0, MAX_GET_ENTRIES + 1), invalid);
  await assert.rejects(log.getEntries(-1, 1), invalid);
  await assert.rejects(log.lookupIndexKey('k', 0), invalid);
  await assert.rejects(log.lookupIndexKey('', 1), invalid);
  assert.equal(await log.getEntry(2), undefined);
  assert.equal(await log.getEntry(-1), undefined);
  assert.equal(await log.getEntry(Number.NaN), undefined);
  assert.equal(await log.findByLeafHash(Buffer.alloc(5)), undefined);
  assert.deepEqual(await log.getEntries(1, 10), [await log.getEntry(1)]);
  assert.deepEqual(await log.consistencyProof(0, 2), []);
  await assert.rejects(log.append(leaf('q', 9), { indexKeys: [''] }), invalid);
  assert.equal(log.latestTreeHead().size, 2);
  await log.close();
});
