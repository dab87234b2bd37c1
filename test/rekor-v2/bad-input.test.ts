import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { ed25519 } from '@noble/curves/ed25519.js';
import { spkiDer } from '../../src/crypto/index.js';
import { b64, dsseRequest, hashedRekordRequest, p256, post, startV2 } from './helpers.js';

type Req = {
  hashedRekordRequestV002: {
    digest: string;
    signature: { content: string; verifier: Record<string, unknown> };
  };
};

test('bad v2 requests: each a 4xx {code, message}, and nothing is written', async (t) => {
  const server = await startV2(t, { bodyLimit: 256 * 1024 });
  const keys = p256();
  const good = (): Req => hashedRekordRequest(undefined, keys).body as Req;
  const edKey = ed25519.keygen();
  const edSpki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), edKey.publicKey]);
  const weakRsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const cases: [string, unknown, number, string, RegExp?][] = [
    ['not JSON', '{"hashedRekordRequestV002":', 400, 'INVALID_JSON'],
    ['empty body', '', 400, 'INVALID_JSON'],
    [
      'a Rekor v1 proposed entry (wrong kind/version shape)',
      { apiVersion: '0.0.1', kind: 'hashedrekord', spec: {} },
      400,
      'INVALID_ENTRY',
      /unknown field/,
    ],
    ['no request type', {}, 400, 'INVALID_ENTRY', /exactly one/],
    [
      'both request types',
      { ...good(), ...(dsseRequest().body as object) },
      400,
      'INVALID_ENTRY',
      /exactly one/,
    ],
    ['an unknown field', { ...good(), extra: 1 }, 400, 'INVALID_ENTRY', /unknown field/],
    [
      'bad signature',
      (() => {
        const r = good();
        r.hashedRekordRequestV002.digest = b64(Buffer.alloc(32, 7));
        return r;
      })(),
      400,
      'INVALID_SIGNATURE',
    ],
    [
      'digest of the wrong length for the key',
      (() => {
        const r = good();
        r.hashedRekordRequestV002.digest = b64(Buffer.alloc(48, 7));
        return r;
      })(),
      400,
      'INVALID_ENTRY',
      /48 bytes/,
    ],
    [
      'pure Ed25519 (refused as rekor-tiles does)',
      {
        hashedRekordRequestV002: {
          digest: b64(Buffer.alloc(32, 1)),
          signature: {
            content: b64(Buffer.from(ed25519.sign(Buffer.alloc(32, 1), edKey.secretKey))),
            verifier: { publicKey: { rawBytes: b64(edSpki) }, keyDetails: 'PKIX_ED25519' },
          },
        },
      },
      400,
      'INVALID_KEY',
      /pure Ed25519/,
    ],
    [
      'keyDetails naming another key type',
      (() => {
        const r = good();
        r.hashedRekordRequestV002.signature.verifier.keyDetails = 'PKIX_ECDSA_P384_SHA_384';
        return r;
      })(),
      400,
      'INVALID_KEY',
    ],
    [
      'an algorithm outside the allowed set',
      (() => {
        const r = good();
        r.hashedRekordRequestV002.signature.verifier.keyDetails = 'PKIX_RSA_PSS_2048_SHA256';
        return r;
      })(),
      400,
      'INVALID_KEY',
      /not an allowed algorithm/,
    ],
    [
      'RSA-1024 (refused key type)',
      hashedRekordRequest(undefined, weakRsa, { keyDetails: 'PKIX_RSA_PKCS1V15_2048_SHA256' }).body,
      400,
      'WEAK_KEY',
    ],
    [
      'a key that is not DER',
      (() => {
        const r = good();
        r.hashedRekordRequestV002.signature.verifier.publicKey = { rawBytes: b64('not a key') };
        return r;
      })(),
      400,
      'INVALID_KEY',
    ],
    [
      'a certificate that is not a certificate',
      (() => {
        const r = good();
        delete r.hashedRekordRequestV002.signature.verifier.publicKey;
        r.hashedRekordRequestV002.signature.verifier.x509Certificate = {
          rawBytes: b64(spkiDer(keys.publicKey)),
        };
        return r;
      })(),
      400,
      'INVALID_CERTIFICATE',
    ],
    [
      'oversized signature field',
      (() => {
        const r = good();
        r.hashedRekordRequestV002.signature.content = b64(Buffer.alloc(4096, 1));
        return r;
      })(),
      400,
      'INVALID_ENTRY',
      /longer than/,
    ],
    [
      'oversized key field',
      (() => {
        const r = good();
        r.hashedRekordRequestV002.signature.verifier.publicKey = { rawBytes: b64(Buffer.alloc(20_000, 1)) };
        return r;
      })(),
      400,
      'INVALID_ENTRY',
      /longer than/,
    ],
    ['body over the limit', JSON.stringify({ x: 'a'.repeat(300 * 1024) }), 413, 'TOO_LARGE'],
    [
      'dsse envelope with a signature no verifier verifies',
      (() => {
        const d = dsseRequest(undefined, keys).body as { dsseRequestV002: { envelope: { payload: string } } };
        d.dsseRequestV002.envelope.payload = b64('tampered');
        return d;
      })(),
      400,
      'INVALID_SIGNATURE',
    ],
    [
      'dsse with too many signatures',
      (() => {
        const d = dsseRequest(undefined, keys).body as {
          dsseRequestV002: { envelope: { signatures: unknown[] } };
        };
        const s = d.dsseRequestV002.envelope.signatures[0];
        d.dsseRequestV002.envelope.signatures = Array.from({ length: 11 }, () => s);
        return d;
      })(),
      400,
      'INVALID_ENTRY',
      /more than 10/,
    ],
    [
      'dsse without verifiers',
      (() => {
        const d = dsseRequest(undefined, keys).body as { dsseRequestV002: { verifiers: unknown[] } };
        d.dsseRequestV002.verifiers = [];
        return d;
      })(),
      400,
      'INVALID_ENTRY',
      /verifier/,
    ],
  ];
  for (const [what, body, status, code, message] of cases) {
    const res = await post(server.url, body);
    const text = await res.text();
    assert.equal(res.status, status, `${what}: ${text}`);
    const err = JSON.parse(text) as { code: string; message: string };
    assert.equal(err.code, code, `${what}: ${text}`);
    assert.equal(typeof err.message, 'string');
    if (message) assert.match(err.message, message, what);
  }
  const wrongType = await post(server.url, good(), 'text/plain');
  assert.equal(wrongType.status, 415);
  assert.equal(server.log.latestTreeHead().size, 0, 'no bad request wrote anything');
});

test('a dsse envelope over the 1 MiB payload cap is refused inside the 4 MiB body limit', async (t) => {
  const server = await startV2(t);
  const res = await post(server.url, dsseRequest(Buffer.alloc(1024 * 1024 + 1, 0x61)).body);
  assert.equal(res.status, 400);
  const err = (await res.json()) as { code: string; message: string };
  assert.equal(err.code, 'INVALID_ENTRY');
  assert.match(err.message, /payload: is longer than 1048576 bytes/);
  assert.equal(
    (await post(server.url, dsseRequest(Buffer.alloc(1024 * 1024, 0x61)).body)).status,
    201,
    'at the cap is fine',
  );
  assert.equal(server.log.latestTreeHead().size, 1);
});
