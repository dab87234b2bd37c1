import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashedRekordRequest, p256, post, startV2 } from './helpers.js';

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
