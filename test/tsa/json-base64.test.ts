import { test } from 'node:test';
import assert from 'node:assert/strict';
import { postTimestamp, withTsa } from './helpers.js';

const hash = Buffer.alloc(32, 0xab).toString('base64'); // 44 characters, one '='

/**
 * The JSON form's artifactHash is standard padded base64, as sigstore's timestamp-authority
 * decodes it (Go's encoding/json, base64.StdEncoding): Node's lenient decoder read an unpadded
 * or truncated string as some bytes and the TSA timestamped them (or answered a rejection as if
 * the hash were merely the wrong length). Not base64 is a malformed request: 400 JSON.
 */
test('TSA JSON form: artifactHash that is not padded standard base64 is refused with 400', async () => {
  await withTsa(async (tsa) => {
    const post = (artifactHash: string) =>
      postTimestamp(
        tsa.timestampUrl,
        JSON.stringify({ artifactHash, hashAlgorithm: 'sha256' }),
        'application/json',
      );
    const ok = await post(hash);
    assert.equal(ok.status, 200);
    assert.match(ok.type, /timestamp-reply/);
    for (const bad of [hash.slice(0, -1), 'A', 'AAAAA', `${hash.slice(0, -2)}B=`, `${hash}=`, '=']) {
      const r = await post(bad);
      assert.equal(r.status, 400, `${JSON.stringify(bad)}: ${r.status} ${r.type}`);
      assert.equal((JSON.parse(r.body.toString()) as { code: string }).code, 'INVALID_INPUT');
    }
  });
});
