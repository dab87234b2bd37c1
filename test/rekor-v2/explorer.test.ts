import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { requireBinary } from '../helpers/env.js';
import { dsseRequest, hashedRekordRequest, post, startV2 } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
];

test('the v2 explorer page reads the log through its tiles, checks leaf hashes in the browser, flags a tampered tile', async (t) => {
  if (!requireBinary(t, CHROMIUM)) return;
  const server = await startV2(t);
  const h = hashedRekordRequest();
  assert.equal((await post(server.url, h.body)).status, 201);
  assert.equal((await post(server.url, dsseRequest().body)).status, 201);
  assert.equal((await post(server.url, hashedRekordRequest().body)).status, 201);
  await server.tiles.writer.sync();
  const page0 = await fetch(server.url);
  assert.match(page0.headers.get('content-security-policy') ?? '', /script-src 'self'/);

  /** A fresh browser profile per look: tiles are served immutable, so a browser keeps what it read. */
  const rows = async (): Promise<string[][]> => {
    const profile = mkdtempSync(join(tmpdir(), 'sigil-chromium-v2-'));
    const ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: ARGS,
      headless: true,
    });
    try {
      const page = await ctx.newPage();
      await page.goto(server.url);
      await page.waitForSelector('#entries tbody tr[data-index="0"]', { timeout: 15_000 });
      assert.match((await page.textContent('#tree')) ?? '', /origin 127\.0\.0\.1 · tree size 3/);
      return await page.$$eval('#entries tbody tr', (trs) =>
        trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
      );
    } finally {
      await ctx.close();
      rmSync(profile, { recursive: true, force: true });
    }
  };
  const seen = await rows();
  assert.deepEqual(
    seen.map((r) => [r[0], r[1], r[4]]),
    [
      ['2', 'hashedrekord 0.0.2', '✔'],
      ['1', 'dsse 0.0.2', '✔'],
      ['0', 'hashedrekord 0.0.2', '✔'],
    ],
  );
  assert.equal(seen[2]![2], `SHA2_256:${h.digest.toString('hex')}`);
  assert.match(seen[2]![3]!, /PKIX_ECDSA_P256_SHA_256 \(public key\)/);

  // A hash tile that no longer matches its entries is flagged, not trusted.
  const tile = join(server.tiles.writer.dir, 'tile/0/000.p/3');
  const bytes = readFileSync(tile);
  bytes[0] ^= 1;
  writeFileSync(tile, bytes);
  const tampered = await rows();
  assert.deepEqual(
    tampered.map((r) => r[4]),
    ['✔', '✔', '✘ differs from the hash tile'],
  );
});
