import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSigilError } from '../../src/errors/index.js';
import {
  createLog,
  openSqliteStore,
  type AppendResult,
  type CommitBatch,
  type LogStore,
} from '../../src/log/index.js';
import { rootOf, verifyConsistency } from '../../src/merkle/index.js';
import { assertProof, leaf, tempDir, textSigner } from './helpers.js';

type Fault = 'before' | 'after' | 'reads' | undefined;

/** Wraps a real store; the next commit fails before or after reaching the database. */
function faulty(inner: LogStore): LogStore & { fault: Fault } {
  const w = {
    fault: undefined as Fault,
    description: `faulty ${inner.description}`,
    load: () => (w.fault === 'reads' ? Promise.reject(new Error('injected read fault')) : inner.load()),
    async commitBatch(batch: CommitBatch): Promise<void> {
      const f = w.fault;
      if (f === 'before' || f === 'reads') throw new Error('injected fault before commit');
      await inner.commitBatch(batch);
      if (f === 'after') {
        w.fault = undefined;
        throw new Error('injected fault after commit');
      }
    },
    getEntries: inner.getEntries.bind(inner),
    findByLeafHashes: inner.findByLeafHashes.bind(inner),
    lookupIndexKey: inner.lookupIndexKey.bind(inner),
    getNodeRange: inner.getNodeRange.bind(inner),
    getNodes: inner.getNodes.bind(inner),
    close: inner.close.bind(inner),
  };
  return w;
}

async function checkWholeTree(
  log: Awaited<ReturnType<typeof createLog>>,
  acked: AppendResult[],
): Promise<void> {
  const head = log.latestTreeHead();
  const entries = await log.getEntries(0, head.size);
  assert.equal(entries.length, head.size);
  entries.forEach((e, i) => assert.equal(e.index, i));
  assert.ok(
    rootOf(entries.map((e) => e.leafHash)).equals(head.rootHash),
    'tree head matches the stored leaves',
  );
  for (const r of acked) {
    assert.ok(
      entries[r.entry.index]?.leafHash.equals(r.entry.leafHash),
      `acknowledged ${r.entry.index} kept`,
    );
    const proof = await log.consistencyProof(r.treeHead.size, head.size);
    assert.ok(verifyConsistency(r.treeHead.size, head.size, r.treeHead.rootHash, head.rootHash, proof));
  }
}

for (const where of ['before', 'after'] as const) {
  test(`a commit that fails ${where} the database rejects its batch with STORAGE_FAILURE; the log recovers`, async (t) => {
    const dir = tempDir(t);
    const store = faulty(await openSqliteStore({ dir }));
    const log = await createLog({ store, signTreeHead: textSigner });
    const acked = await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(leaf('ok', i))));
    const sizeBefore = log.latestTreeHead().size;

    store.fault = where;
    const failed = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => log.append(leaf('bad', i))));
    store.fault = undefined;
    for (const s of failed) {
      assert.equal(s.status, 'rejected');
      assert.ok(isSigilError((s as PromiseRejectedResult).reason, 'STORAGE_FAILURE'));
    }
    assert.equal(log.stats().failedCommits, 1);
    // Memory equals the durable state: unchanged before, the committed batch after.
    assert.equal(log.latestTreeHead().size, where === 'before' ? sizeBefore : sizeBefore + 10);

    // Retried appends: new entries after a 'before' fault, duplicates after an 'after' fault.
    const retried = await Promise.all(Array.from({ length: 10 }, (_, i) => log.append(leaf('bad', i))));
    for (const r of retried) {
      assert.equal(r.duplicate, where === 'after');
      assertProof(r);
    }
    const later = await Promise.all(Array.from({ length: 30 }, (_, i) => log.append(leaf('later', i))));
    assert.equal(log.latestTreeHead().size, sizeBefore + 40);
    await checkWholeTree(log, [...acked, ...retried, ...later]);
    await log.close();

    const reopened = await createLog({ store: await openSqliteStore({ dir }), signTreeHead: textSigner });
    await checkWholeTree(reopened, [...acked, ...retried, ...later]);
    await reopened.close();
  });
}

test('while the store is down appends fail; when it returns the log carries on', async (t) => {
  const dir = tempDir(t);
  const store = faulty(await openSqliteStore({ dir }));
  const log = await createLog({ store, signTreeHead: textSigner });
  const acked = [await log.append(leaf('up', 0))];
  store.fault = 'reads'; // commit and the reload after it both fail
  for (let i = 0; i < 3; i++) {
    await assert.rejects(log.append(leaf('down', i)), (e: unknown) => isSigilError(e, 'STORAGE_FAILURE'));
  }
  store.fault = undefined;
  acked.push(await log.append(leaf('up', 1)));
  assert.equal(acked[1]!.entry.index, 1);
  await checkWholeTree(log, acked);
  await log.close();
});

test('a signer that throws fails the batch without writing anything', async (t) => {
  const dir = tempDir(t);
  let broken = false;
  const log = await createLog({
    store: await openSqliteStore({ dir }),
    signTreeHead: (s, r, ts) => {
      if (broken) throw new Error('signing key unavailable');
      return textSigner(s, r, ts);
    },
  });
  await log.append(leaf('s', 0));
  broken = true;
  await assert.rejects(log.append(leaf('s', 1)), (e: unknown) => isSigilError(e));
  broken = false;
  assert.equal(log.latestTreeHead().size, 1);
  assert.equal((await log.append(leaf('s', 2))).entry.index, 1);
  await log.close();
});
