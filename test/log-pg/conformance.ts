import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSigilError } from '../../src/errors/index.js';
import { createLog, MAX_GET_ENTRIES } from '../../src/log/index.js';
import { leafHash, rootOf, verifyConsistency, verifyInclusion } from '../../src/merkle/index.js';
import { assertProof, leaf, textSigner } from '../log/helpers.js';
import type { Driver } from './drivers.js';

/** The log's conformance suite: the same assertions for every storage driver. */
export function conformance(driver: Driver): void {
  const name = (what: string): string => `[${driver.name}] ${what}`;

  test(name('a fresh log has a signed empty tree head and a persistent tree ID'), async (t) => {
    const open = await driver.fresh(t);
    if (!open) return;
    const log = await createLog({ store: await open(), signTreeHead: textSigner, now: () => 5000 });
    const head = log.latestTreeHead();
    assert.equal(head.size, 0);
    assert.ok(head.rootHash.equals(rootOf([])));
    assert.equal(head.signed, textSigner(0, head.rootHash, 5000));
    assert.match(log.treeId, /^[1-9][0-9]*$/);
    assert.ok(BigInt(log.treeId) < 2n ** 63n);
    const id = log.treeId;
    await log.close();
    const again = await createLog({ store: await open(), signTreeHead: textSigner });
    assert.equal(again.treeId, id);
    assert.equal(again.latestTreeHead().signed, head.signed);
    await again.close();
  });

  test(
    name('a second writer is refused with LOCKED while the first holds the log; free after close'),
    async (t) => {
      const open = await driver.fresh(t);
      if (!open) return;
      const log = await createLog({ store: await open(), signTreeHead: textSigner });
      await log.append(leaf('l', 0));
      await assert.rejects(open(), (e: unknown) => isSigilError(e, 'LOCKED'));
      assert.equal((await log.append(leaf('l', 1))).entry.index, 1);
      await log.close();
      const again = await createLog({ store: await open(), signTreeHead: textSigner });
      assert.equal(again.latestTreeHead().size, 2);
      await again.close();
    },
  );

  test(name('concurrent appends share commits, get dense indexes and proofs that verify'), async (t) => {
    const open = await driver.fresh(t);
    if (!open) return;
    const log = await createLog({ store: await open(), signTreeHead: textSigner, maxBatch: 256 });
    const results = await Promise.all(Array.from({ length: 500 }, (_, i) => log.append(leaf('a', i))));
    const stats = log.stats();
    assert.equal(stats.appended, 500);
    assert.ok(stats.commits <= 3, `500 appends took ${stats.commits} commits`);
    assert.deepEqual(
      results.map((r) => r.entry.index).sort((a, b) => a - b),
      Array.from({ length: 500 }, (_, i) => i),
    );
    for (const r of results) {
      assert.equal(r.duplicate, false);
      assertProof(r);
    }
    const head = log.latestTreeHead();
    assert.equal(head.size, 500);
    const leaves = results.sort((a, b) => a.entry.index - b.entry.index).map((r) => r.entry.leafHash);
    assert.ok(head.rootHash.equals(rootOf(leaves)));
    const got = await log.getEntries(0, 500);
    assert.equal(got.length, 500);
    for (const e of got) assert.ok(leafHash(e.leaf).equals(e.leafHash));
    await log.close();
  });

  test(
    name('entries, tree head, index keys and proofs survive reopen; indexes are never reused'),
    async (t) => {
      const open = await driver.fresh(t);
      if (!open) return;
      const first = await createLog({ store: await open(), signTreeHead: textSigner });
      const a = await Promise.all(
        Array.from({ length: 300 }, (_, i) => first.append(leaf('b', i), { indexKeys: [`k${i % 7}`] })),
      );
      const headA = first.latestTreeHead();
      await first.close();

      const second = await createLog({ store: await open(), signTreeHead: textSigner });
      assert.deepEqual(second.latestTreeHead(), headA);
      for (const r of a) {
        const e = await second.getEntry(r.entry.index);
        assert.ok(e && e.leaf.equals(r.entry.leaf) && e.integratedTime === r.entry.integratedTime);
        assert.equal((await second.findByLeafHash(r.entry.leafHash))?.index, r.entry.index);
      }
      const b = await Promise.all(Array.from({ length: 200 }, (_, i) => second.append(leaf('c', i))));
      const newIndexes = b.map((r) => r.entry.index).sort((x, y) => x - y);
      assert.equal(newIndexes[0], 300);
      assert.equal(newIndexes[199], 499);
      const head = second.latestTreeHead();
      const cons = await second.consistencyProof(headA.size, head.size);
      assert.ok(verifyConsistency(headA.size, head.size, headA.rootHash, head.rootHash, cons));
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
    },
  );

  test(name('proofs and roots at every historical size match a recomputation from the leaves'), async (t) => {
    const open = await driver.fresh(t);
    if (!open) return;
    // Tiny window and hot level so most nodes must come from the store, not from memory.
    const log = await createLog({
      store: await open(),
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

  test(
    name('duplicates, stored or twice in one batch, write nothing and return the existing entry'),
    async (t) => {
      const open = await driver.fresh(t);
      if (!open) return;
      const log = await createLog({ store: await open(), signTreeHead: textSigner });
      const original = await log.append(leaf('d', 1), { indexKeys: ['x'] });
      const commits = log.stats().commits;
      const again = await log.append(leaf('d', 1), { indexKeys: ['y'] });
      assert.equal(again.duplicate, true);
      assert.equal(again.entry.index, original.entry.index);
      assert.equal(log.stats().commits, commits);
      assert.deepEqual(await log.lookupIndexKey('y'), []);
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
      await log.close();
    },
  );

  test(name('appends beyond maxPending are refused with PUSHBACK and Retry-After'), async (t) => {
    const open = await driver.fresh(t);
    if (!open) return;
    const log = await createLog({ store: await open(), signTreeHead: textSigner, maxPending: 10 });
    const settled = await Promise.allSettled(Array.from({ length: 25 }, (_, i) => log.append(leaf('p', i))));
    const refused = settled.filter((s) => s.status === 'rejected');
    assert.equal(refused.length, 15);
    for (const s of refused) {
      const e = (s as PromiseRejectedResult).reason;
      assert.ok(isSigilError(e, 'PUSHBACK'));
      assert.equal(e.headers?.['retry-after'], '1');
    }
    assert.equal(log.latestTreeHead().size, 10);
    assert.equal((await log.append(leaf('p', 100))).entry.index, 10);
    await log.close();
  });

  test(name('reads and proofs reject absurd arguments with INVALID_INPUT'), async (t) => {
    const open = await driver.fresh(t);
    if (!open) return;
    const log = await createLog({ store: await open(), signTreeHead: textSigner });
    await Promise.all([log.append(leaf('q', 0)), log.append(leaf('q', 1))]);
    const invalid = (e: unknown): boolean => isSigilError(e, 'INVALID_INPUT');
    await assert.rejects(log.inclusionProof(2, 2), invalid);
    await assert.rejects(log.inclusionProof(0, 3), invalid);
    await assert.rejects(log.inclusionProof(-1, 2), invalid);
    await assert.rejects(log.consistencyProof(2, 1), invalid);
    await assert.rejects(log.consistencyProof(1, 2 ** 60), invalid);
    await assert.rejects(log.rootAt(3), invalid);
    await assert.rejects(log.getEntries(0, MAX_GET_ENTRIES + 1), invalid);
    await assert.rejects(log.lookupIndexKey('', 1), invalid);
    assert.equal(await log.getEntry(2), undefined);
    assert.equal(await log.findByLeafHash(Buffer.alloc(5)), undefined);
    assert.deepEqual(await log.getEntries(1, 10), [await log.getEntry(1)]);
    await assert.rejects(log.append(leaf('q', 9), { indexKeys: [''] }), invalid);
    assert.equal(log.latestTreeHead().size, 2);
    await log.close();
  });
}
