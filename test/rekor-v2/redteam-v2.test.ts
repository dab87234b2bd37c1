import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isSigilError } from '../../src/errors/index.js';
import { tilePath } from '../../src/log/tiles/paths.js';
import { createParserPool } from '../../src/rekor-v2/pool.js';
import { createRekorV2Server } from '../../src/rekor-v2/server.js';
import { dsseRequest, hashedRekordRequest, p256, post, startV2, tempDir } from './helpers.js';

type Hr = { hashedRekordRequestV002: { digest: string; signature: unknown } };

test('a request naming one JSON key twice is 400 {code, message} (protojson refuses it), nothing logged', async (t) => {
  const server = await startV2(t);
  const keys = p256();
  const signed = hashedRekordRequest(undefined, keys).body as Hr;
  const other = hashedRekordRequest(undefined, keys).body as Hr;
  const sig = JSON.stringify(signed.hashedRekordRequestV002.signature);
  const d = signed.hashedRekordRequestV002.digest;
  const cases = [
    `{"hashedRekordRequestV002":{"digest":"${other.hashedRekordRequestV002.digest}","digest":"${d}","signature":${sig}}}`,
    `{"hashedRekordRequestV002":{"digest":"${d}","signature":${sig},"sign\\u0061ture":${sig}}}`,
    `{"hashedRekordRequestV002":null,"hashedRekordRequestV002":{"digest":"${d}","signature":${sig}}}`,
  ];
  for (const text of cases) {
    const res = await post(server.url, text);
    const body = await res.text();
    assert.equal(res.status, 400, body);
    const err = JSON.parse(body) as { code: string; message: string };
    assert.equal(err.code, 'INVALID_JSON', body);
    assert.match(err.message, /given twice/);
  }
  assert.equal(server.log.latestTreeHead().size, 0);
  // Keys repeated in different objects, and key-like strings in values and arrays, are fine.
  const ok = await post(server.url, signed);
  assert.equal(ok.status, 201, await ok.text());
});

test('a worker thread that dies is replaced: later requests are answered, none hangs', async (t) => {
  const pool = await createParserPool(1);
  t.after(() => pool.close());
  const good = (): string => JSON.stringify(hashedRekordRequest().body);
  assert.equal((await pool.parse(good(), 1 << 20)).kind, 'hashedrekord');
  const dead = pool.threads![0]!;
  await dead.terminate();
  const answers = await Promise.all(
    Array.from({ length: 5 }, async () => {
      const deadline = new Promise<string>((r) => setTimeout(() => r('hung'), 10_000).unref());
      const answer = (async () => {
        for (let i = 0; i < 50; i++) {
          try {
            return (await pool.parse(good(), 1 << 20)).kind;
          } catch (e) {
            if (!isSigilError(e, 'UNAVAILABLE')) throw e;
            await new Promise((r) => setTimeout(r, 50));
          }
        }
        return 'unavailable';
      })();
      return Promise.race([answer, deadline]);
    }),
  );
  assert.deepEqual(answers, Array(5).fill('hashedrekord'));
  assert.notEqual(pool.threads![0], dead);
});

test('a short tile or entry bundle left in the tile directory is rewritten at restart, not served forever', async (t) => {
  const dataDir = tempDir(t);
  const first = await createRekorV2Server({ dataDir, port: 0, logLevel: 'silent', workers: 0 });
  for (let i = 0; i < 3; i++) assert.equal((await post(first.url, hashedRekordRequest().body)).status, 201);
  await first.tiles.writer.sync();
  await first.close();
  const hashes = join(dataDir, 'tiles', tilePath({ level: 0, index: 0, width: 3 }));
  const entries = join(dataDir, 'tiles', tilePath({ level: 'entries', index: 0, width: 3 }));
  const good = [readFileSync(hashes), readFileSync(entries)];
  writeFileSync(hashes, good[0]!.subarray(0, 40));
  writeFileSync(entries, Buffer.alloc(0));
  const second = await startV2(t, { dataDir });
  await second.tiles.writer.sync();
  for (const [path, bytes] of [
    [tilePath({ level: 0, index: 0, width: 3 }), good[0]!],
    [tilePath({ level: 'entries', index: 0, width: 3 }), good[1]!],
  ] as const) {
    const res = await fetch(`${second.url}/${path}`);
    assert.equal(res.status, 200);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytes, path);
  }
});

test('a request body that is not UTF-8 (or starts with a BOM) is 400 INVALID_JSON, nothing logged', async (t) => {
  const server = await startV2(t);
  const text = JSON.stringify(hashedRekordRequest().body);
  // Signed over the U+FFFD a lenient decoder puts in place of the raw 0xff byte sent.
  const patched = JSON.stringify(dsseRequest(undefined, p256(), 'type/\ufffd').body);
  const at = Buffer.from(patched).indexOf(Buffer.from('type/\ufffd'));
  const raw = Buffer.from(patched);
  const bodies = [
    Buffer.concat([raw.subarray(0, at + 5), Buffer.from([0xff]), raw.subarray(at + 8)]),
    Buffer.concat([Buffer.from(text.slice(0, 30)), Buffer.from([0xff, 0xfe]), Buffer.from(text.slice(30))]),
    Buffer.concat([Buffer.from(text.slice(0, 30)), Buffer.from([0xc3]), Buffer.from(text.slice(30))]),
    Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]),
  ];
  for (const body of bodies) {
    const res = await fetch(`${server.url}/api/v2/log/entries`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    const answer = await res.text();
    assert.equal(res.status, 400, answer);
    assert.equal((JSON.parse(answer) as { code: string }).code, 'INVALID_JSON', answer);
  }
  assert.equal(server.log.latestTreeHead().size, 0);
});
