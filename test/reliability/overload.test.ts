import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RekorClient } from '../../src/rekor/client.js';
import { count, entryMaker, postJson, rssOf, spawnServer, stop, tempDir, within } from './helpers.js';

const LIMIT = 32;
const WAVES = count('SIGIL_OVERLOAD_WAVES', 3, 20);
/** RSS ceiling for the log process under 10× overload (its idle RSS is ~100–150 MB with one worker). */
const RSS_CEILING = 512 * 1024 * 1024;

test(`10× the back-pressure limit (${LIMIT} in flight → ${LIMIT * 10} at once, ${WAVES} waves): fast 503 + Retry-After, bounded memory, every accepted entry integrated`, async (t) => {
  const served = await spawnServer([
    'log',
    'serve',
    '--port',
    '0',
    '--data-dir',
    tempDir(t),
    '--workers',
    '1',
    '--max-in-flight',
    String(LIMIT),
  ]);
  t.after(() => stop(served.proc));
  const pid = served.proc.pid!;
  const url = `${served.url}/api/v1/log/entries`;
  const next = entryMaker();
  const accepted: string[] = [];
  const shedMs: number[] = [];
  const acceptedMs: number[] = [];
  let peakRss = rssOf(pid);
  const idleRss = peakRss;
  const sampler = setInterval(() => {
    try {
      peakRss = Math.max(peakRss, rssOf(pid));
    } catch {
      /* exited */
    }
  }, 20);
  t.after(() => clearInterval(sampler));

  for (let wave = 0; wave < WAVES; wave++) {
    const bodies = Array.from({ length: LIMIT * 10 }, next);
    const results = await within(
      60_000,
      Promise.all(
        bodies.map(async (body) => {
          const started = performance.now();
          const res = await postJson(url, body);
          const text = await res.text();
          return {
            status: res.status,
            retryAfter: res.headers.get('retry-after'),
            text,
            ms: performance.now() - started,
          };
        }),
      ),
      `wave ${wave}`,
    );
    for (const r of results) {
      if (r.status === 201) {
        accepted.push(Object.keys(JSON.parse(r.text) as object)[0]!);
        acceptedMs.push(r.ms);
        continue;
      }
      assert.ok(r.status === 503 || r.status === 429, `overload answered ${r.status}: ${r.text}`);
      assert.ok(r.retryAfter !== null && /^\d+$/.test(r.retryAfter), 'a shed request carries Retry-After');
      assert.equal((JSON.parse(r.text) as { code: string }).code, 'PUSHBACK');
      shedMs.push(r.ms);
    }
    // Whether a given wave overflows depends on how fast the client gets its 320 requests out
    // against how fast the log drains them; across the waves the limit must be reached.
    const shed = results.filter((r) => r.status !== 201).length;
    assert.ok(
      results.length - shed >= LIMIT / 2,
      `wave ${wave}: the log kept accepting (${results.length - shed})`,
    );
  }
  clearInterval(sampler);
  assert.ok(shedMs.length > 0, 'the back-pressure limit was reached and requests were shed');

  // Every accepted entry is in the tree, at a distinct index; nothing else is.
  const client = new RekorClient(served.url);
  const info = await client.logInfo();
  assert.equal(info.treeSize, accepted.length, 'tree size equals the number of 201 answers');
  const seen = new Set<number>();
  for (let i = 0; i < accepted.length; i += 10) {
    const got = await client.retrieveEntries({ entryUUIDs: accepted.slice(i, i + 10) });
    assert.equal(got.length, Math.min(10, accepted.length - i));
    for (const e of got) seen.add(e.logIndex);
  }
  assert.equal(seen.size, accepted.length, 'accepted entries occupy distinct indexes');

  const q = (xs: number[], f: number): number =>
    [...xs].sort((a, b) => a - b)[Math.floor(xs.length * f)] ?? 0;
  t.diagnostic(
    `accepted=${accepted.length} shed=${shedMs.length} shed-p50=${q(shedMs, 0.5).toFixed(0)}ms shed-p99=${q(shedMs, 0.99).toFixed(0)}ms ` +
      `accepted-p50=${q(acceptedMs, 0.5).toFixed(0)}ms accepted-p99=${q(acceptedMs, 0.99).toFixed(0)}ms ` +
      `idle-rss=${(idleRss / 1048576).toFixed(0)}MB peak-rss=${(peakRss / 1048576).toFixed(0)}MB`,
  );
  assert.ok(peakRss < RSS_CEILING, `peak RSS ${peakRss} under ${RSS_CEILING}`);
  // No stall: every answer, shed or accepted, within a bound far below any client timeout (the
  // machine is shared, so the bound is loose); and shedding is not slower than accepting.
  assert.ok(q(shedMs, 0.99) < 15_000, `shed answers p99 ${q(shedMs, 0.99).toFixed(0)} ms`);
  assert.ok(q(shedMs, 0.5) <= q(acceptedMs, 0.99), 'a shed answer does not wait behind the accepted work');
});
