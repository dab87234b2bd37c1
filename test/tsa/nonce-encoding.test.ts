import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireBinary } from '../helpers/env.js';
import { openssl, postTimestamp, withTsa } from './helpers.js';

const tlv = (tag: number, content: Buffer): Buffer =>
  Buffer.concat([Buffer.from([tag, content.length]), content]);
const seq = (...xs: Buffer[]): Buffer => tlv(0x30, Buffer.concat(xs));
const SHA256 = Buffer.from('0609608648016503040201', 'hex');
/** TimeStampReq { 1, sha256 imprint, nonce (these INTEGER content bytes), certReq TRUE }. */
const withNonce = (nonce: number[]): Buffer =>
  seq(
    tlv(0x02, Buffer.from([1])),
    seq(seq(SHA256, Buffer.from([5, 0])), tlv(0x04, Buffer.alloc(32, 7))),
    tlv(0x02, Buffer.from(nonce)),
    tlv(0x01, Buffer.from([0xff])),
  );

/**
 * A nonce is echoed into the signed TSTInfo byte for byte, so a nonce that is no DER INTEGER
 * (empty, or with a redundant leading 0x00 / 0xff) made the TSA sign a token OpenSSL cannot
 * parse ("illegal zero content", "illegal padding"). Such a request is malformed: 400 JSON.
 */
test('TSA: a nonce that is not a minimal DER INTEGER is refused with 400, minimal ones are granted and verify', async (t) => {
  await withTsa(async (tsa, dir) => {
    for (const bad of [[], [0x00, 0x01], [0x00, 0x00, 0x05], [0xff, 0x80]]) {
      const r = await postTimestamp(tsa.timestampUrl, withNonce(bad));
      assert.equal(
        r.status,
        400,
        `nonce ${Buffer.from(bad).toString('hex') || '(empty)'}: ${r.body.toString()}`,
      );
      assert.match(r.type, /application\/json/);
      assert.equal((JSON.parse(r.body.toString()) as { code: string }).code, 'INVALID_INPUT');
    }
    if (!requireBinary(t, 'openssl')) return;
    const chain = join(dir, 'chain.pem');
    writeFileSync(chain, tsa.material.chainPem);
    for (const good of [[0x00], [0x00, 0x80], [0xff], [0xff, 0x7f], [0x01, 0x00]]) {
      const q = withNonce(good);
      const r = await postTimestamp(tsa.timestampUrl, q);
      assert.equal(r.status, 200);
      writeFileSync(join(dir, 'q.tsq'), q);
      writeFileSync(join(dir, 'r.tsr'), r.body);
      const v = openssl([
        'ts',
        '-verify',
        '-in',
        join(dir, 'r.tsr'),
        '-queryfile',
        join(dir, 'q.tsq'),
        '-CAfile',
        chain,
        '-untrusted',
        chain,
      ]);
      assert.equal(v.status, 0, `nonce ${Buffer.from(good).toString('hex')}: ${v.out}`);
    }
  });
});
