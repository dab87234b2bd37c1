import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VerificationCache } from '../../src/admission/cache.js';

test('verification cache: TTL from the set, size bound evicting the least recently used', () => {
  let now = 0;
  const cache = new VerificationCache<string>({ ttlMs: 10_000, maxEntries: 2, now: () => now });
  cache.set('a', 'A');
  cache.set('b', 'B');
  // A hit more than a second later counts as recent use: 'a' outlives 'b' when 'c' arrives.
  now = 1500;
  assert.equal(cache.lookup('a'), 'A');
  cache.set('c', 'C');
  assert.equal(cache.get('b'), undefined, 'least recently used evicted');
  assert.equal(cache.get('a'), 'A');
  assert.equal(cache.stats.size, 2);
  // Expiry counts from the set, not from the last hit: 'a' (set at 0) is gone at 10 s, 'c' (set at 1.5 s) not yet.
  now = 10_000;
  assert.equal(cache.get('a'), undefined);
  assert.equal(cache.get('c'), 'C');
  now = 11_500;
  assert.equal(cache.get('c'), undefined);
  assert.equal(cache.stats.size, 0);
});

test('verification cache: getOrCompute keeps only what `keep` accepts and shares running work', async () => {
  const cache = new VerificationCache<string>({ ttlMs: 60_000 });
  let runs = 0;
  let release!: (v: string) => void;
  const compute = (): Promise<string> => {
    runs++;
    return new Promise((r) => (release = r));
  };
  const first = cache.getOrCompute('k', compute, (v) => v === 'pass');
  const second = cache.getOrCompute('k', compute, (v) => v === 'pass');
  release('fail');
  assert.deepEqual(await first, { value: 'fail', cached: false });
  assert.deepEqual(await second, { value: 'fail', cached: false });
  assert.equal(runs, 1, 'coalesced');
  assert.equal(cache.stats.coalesced, 1);
  assert.equal(cache.get('k'), undefined, 'a failure is not kept');
  const third = cache.getOrCompute('k', compute, (v) => v === 'pass');
  release('pass');
  assert.deepEqual(await third, { value: 'pass', cached: false });
  assert.deepEqual(await cache.getOrCompute('k', compute, () => true), { value: 'pass', cached: true });
  assert.equal(runs, 2);
});
