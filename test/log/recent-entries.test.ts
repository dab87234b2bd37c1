import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createLog,
  openSqliteStore,
  RECENT_BYTES,
  RECENT_ENTRIES,
  type Log,
  type StoredEntry,
} from '../../src/log/index.js';
import { leaf, tempDir, textSigner } from './helpers.js';

const strip = (es: readonly StoredEntry[] | undefined): StoredEntry[] | undefined =>
  es?.map((e) => ({ index: e.index, leaf: e.leaf, leafHash: e.leafHash, integratedTime: e.integratedTime }));

/** Entries start … end - 1 as the store holds them (read in pieces the reader allows). */
async function stored(log: Log, start: number, end: number): Promise<StoredEntry[] | undefined> {
  const out: StoredEntry[] = [];
  for (let at = start; at < end; at += 1000)
    out.push(...(await log.getEntries(at, Math.min(1000, end - at))));
  return strip(out);
}

test('recentEntries answers committed entries from memory, exactly as the store holds them', async (t) => {
  const log = await createLog({
    store: await openSqliteStore({ dir: tempDir(t) }),
    signTreeHead: textSigner,
  });
  t.after(() => log.close());
  assert.equal(log.recentEntries!(0, 0), undefined, 'nothing committed yet');
  // Several batches (concurrent appends share commits), then a duplicate of a stored entry (the
  // store refuses its batch and the core reloads): the remembered entries stay.
  for (let round = 0; round < 4; round++)
    await Promise.all(Array.from({ length: 300 }, (_, i) => log.append(leaf('r', round * 300 + i))));
  assert.equal((await log.append(leaf('r', 5))).duplicate, true);
  const size = log.latestTreeHead().size;
  assert.equal(size, 1200);
  assert.deepEqual(strip(log.recentEntries!(0, size)), await stored(log, 0, size));
  assert.deepEqual(strip(log.recentEntries!(299, 3)), await stored(log, 299, 302), 'across batches');
  assert.deepEqual(log.recentEntries!(size, 0), []);
  assert.equal(log.recentEntries!(size - 1, 2), undefined, 'past the durable tree head');
  assert.equal(log.recentEntries!(-1, 1), undefined);
  assert.equal(log.recentEntries!(0.5, 1), undefined);
});

test('recentEntries forgets the oldest batches past RECENT_ENTRIES and then answers undefined for them', async (t) => {
  const log = await createLog({
    store: await openSqliteStore({ dir: tempDir(t) }),
    signTreeHead: textSigner,
  });
  t.after(() => log.close());
  for (let at = 0; at < RECENT_ENTRIES + 3000; at += 1000)
    await Promise.all(Array.from({ length: 1000 }, (_, i) => log.append(leaf('w', at + i))));
  const size = log.latestTreeHead().size;
  assert.equal(log.recentEntries!(0, 1), undefined, 'the first batches are forgotten');
  const kept = size - RECENT_ENTRIES;
  assert.deepEqual(strip(log.recentEntries!(kept, RECENT_ENTRIES)), await stored(log, kept, size));
});

test('recentEntries holds at most about RECENT_BYTES of leaves, the newest batches', async (t) => {
  const log = await createLog({
    store: await openSqliteStore({ dir: tempDir(t) }),
    signTreeHead: textSigner,
  });
  t.after(() => log.close());
  const big = (i: number): Buffer => Buffer.concat([leaf('big', i), Buffer.alloc(40_000, i % 251)]);
  const perRound = 400;
  const rounds = Math.ceil((RECENT_BYTES * 1.4) / (perRound * 40_000));
  for (let r = 0; r < rounds; r++)
    await Promise.all(Array.from({ length: perRound }, (_, i) => log.append(big(r * perRound + i))));
  const size = log.latestTreeHead().size;
  assert.equal(log.recentEntries!(0, 1), undefined, 'the oldest leaves are forgotten');
  assert.deepEqual(
    strip(log.recentEntries!(size - perRound, perRound)),
    await stored(log, size - perRound, size),
  );
});
