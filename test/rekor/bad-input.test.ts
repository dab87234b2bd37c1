import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { spkiDer, toPem } from '../../src/crypto/index.js';
import { hashedRekord, post, startLog } from './helpers.js';

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');

type Entry = {
  apiVersion: unknown;
  kind: unknown;
  spec: {
    signature: { content: unknown; publicKey: { content: unknown } };
    data: { hash: { algorithm: unknown; value: unknown } };
  };
};

function entry(mutate: (e: Entry) => void): Entry {
  const e = structuredClone(hashedRekord().entry) as unknown as Entry;
  mutate(e);
  return e;
}

async function expect4xx(
  res: Response,
  what: string,
  status?: number,
): Promise<{ code: string; message: string }> {
  const text = await res.text();
  assert.ok(res.status >= 400 && res.status < 500, `${what}: status ${res.status} ${text}`);
  if (status !== undefined) assert.equal(res.status, status, `${what}: ${text}`);
  const body = JSON.parse(text) as { code: string; message: string };
  assert.equal(typeof body.code, 'string', what);
  assert.equal(typeof body.message, 'string', what);
  assert.deepEqual(Object.keys(body).sort(), ['code', 'message'], what);
  return body;
}

test('bad proposed entries of every kind get 4xx {code, message} and write nothing', async (t) => {
  const server = await startLog(t, { bodyLimit: 64 * 1024 });
  const weakRsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const otherKey = hashedRekord();
  const cases: [string, string | Buffer | unknown, number?, string?][] = [
    ['malformed JSON', '{"apiVersion": "0.0.1", "kind": ', 400, 'INVALID_JSON'],
    ['empty body', '', 400],
    ['deeply nested JSON', '['.repeat(10_000) + ']'.repeat(10_000), 400, 'INVALID_JSON'],
    [
      'nested JSON inside spec',
      {
        apiVersion: '0.0.1',
        kind: 'hashedrekord',
        spec: JSON.parse('{"a":'.repeat(70) + '1' + '}'.repeat(70)),
      },
      400,
      'INVALID_JSON',
    ],
    [
      '__proto__ poisoning',
      '{"apiVersion":"0.0.1","kind":"hashedrekord","__proto__":{"x":1},"spec":{}}',
      400,
    ],
    ['JSON array', [1, 2, 3], 400, 'INVALID_ENTRY'],
    ['JSON string', '"hello"', 400, 'INVALID_ENTRY'],
    ['kind missing', entry((e) => delete (e as { kind?: unknown }).kind), 400, 'INVALID_ENTRY'],
    ['kind wrong type', entry((e) => (e.kind = 7)), 400, 'INVALID_ENTRY'],
    ['unknown kind', entry((e) => (e.kind = 'rpm')), 400, 'INVALID_ENTRY'],
    ['unknown version', entry((e) => (e.apiVersion = '9.9.9')), 400, 'INVALID_ENTRY'],
    ['spec missing', entry((e) => delete (e as { spec?: unknown }).spec), 400, 'INVALID_ENTRY'],
    [
      'signature missing',
      entry((e) => delete (e.spec as { signature?: unknown }).signature),
      400,
      'INVALID_ENTRY',
    ],
    [
      'publicKey missing',
      entry((e) => delete (e.spec.signature as { publicKey?: unknown }).publicKey),
      400,
      'INVALID_ENTRY',
    ],
    ['data missing', entry((e) => delete (e.spec as { data?: unknown }).data), 400, 'INVALID_ENTRY'],
    ['hash value wrong type', entry((e) => (e.spec.data.hash.value = ['ab'])), 400, 'INVALID_ENTRY'],
    ['digest too short', entry((e) => (e.spec.data.hash.value = 'ab'.repeat(31))), 400, 'INVALID_ENTRY'],
    [
      'sha512 with a sha256-length digest',
      entry((e) => (e.spec.data.hash.algorithm = 'sha512')),
      400,
      'INVALID_ENTRY',
    ],
    ['unknown hash algorithm', entry((e) => (e.spec.data.hash.algorithm = 'md5')), 400, 'INVALID_ENTRY'],
    ['bad hex', entry((e) => (e.spec.data.hash.value = 'g'.repeat(64))), 400, 'INVALID_ENTRY'],
    ['bad base64 signature', entry((e) => (e.spec.signature.content = 'not base64!')), 400, 'INVALID_INPUT'],
    ['unpadded base64 signature', entry((e) => (e.spec.signature.content = 'AAA')), 400, 'INVALID_INPUT'],
    ['signature wrong type', entry((e) => (e.spec.signature.content = 12)), 400, 'INVALID_ENTRY'],
    ['bad base64 key', entry((e) => (e.spec.signature.publicKey.content = '%%%')), 400, 'INVALID_INPUT'],
    [
      'key that is not PEM',
      entry((e) => (e.spec.signature.publicKey.content = b64('ssh-ed25519 AAAA'))),
      400,
      'INVALID_KEY',
    ],
    [
      'key that does not parse',
      entry(
        (e) =>
          (e.spec.signature.publicKey.content = b64(
            '-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n',
          )),
      ),
      400,
      'INVALID_KEY',
    ],
    [
      'private key PEM',
      entry(
        (e) =>
          (e.spec.signature.publicKey.content = b64(
            weakRsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
          )),
      ),
      400,
      'INVALID_KEY',
    ],
    [
      'weak RSA key',
      entry(
        (e) => (e.spec.signature.publicKey.content = b64(toPem('PUBLIC KEY', spkiDer(weakRsa.publicKey)))),
      ),
      400,
      'WEAK_KEY',
    ],
    [
      'signature that does not match',
      entry((e) => (e.spec.signature.content = b64(otherKey.signature))),
      400,
      'INVALID_SIGNATURE',
    ],
    [
      'key of another signer',
      entry(
        (e) =>
          (e.spec.signature.publicKey.content = (
            otherKey.entry.spec as Entry['spec']
          ).signature.publicKey.content),
      ),
      400,
      'INVALID_SIGNATURE',
    ],
    ['oversized body', { ...hashedRekord().entry, padding: 'x'.repeat(100 * 1024) }, 413, 'TOO_LARGE'],
    [
      'dsse without envelope',
      { apiVersion: '0.0.1', kind: 'dsse', spec: { proposedContent: { verifiers: ['AAAA'] } } },
      400,
      'INVALID_ENTRY',
    ],
  ];
  for (const [what, body, status, code] of cases) {
    const res = await post(
      server.url,
      '/api/v1/log/entries',
      typeof body === 'string' ? body : JSON.stringify(body),
    );
    const err = await expect4xx(res, what, status);
    if (code) assert.equal(err.code, code, `${what}: ${err.message}`);
  }
  // A non-JSON content type, and no content type at all, are still handled as 4xx.
  await expect4xx(await post(server.url, '/api/v1/log/entries', 'abc', 'text/plain'), 'text/plain body');
  const info = (await (await fetch(`${server.url}/api/v1/log`)).json()) as { treeSize: number };
  assert.equal(info.treeSize, 0, 'no bad entry was written');
  // And the log still works.
  assert.equal((await post(server.url, '/api/v1/log/entries', hashedRekord().entry)).status, 201);
});

test('bad indexes, sizes, IDs and queries get 4xx {code, message}', async (t) => {
  const server = await startLog(t);
  for (let i = 0; i < 3; i++)
    assert.equal((await post(server.url, '/api/v1/log/entries', hashedRekord().entry)).status, 201);
  const gets: [string, number][] = [
    ['/api/v1/log/entries?logIndex=-1', 400],
    ['/api/v1/log/entries?logIndex=abc', 400],
    ['/api/v1/log/entries?logIndex=1.5', 400],
    ['/api/v1/log/entries?logIndex=99999999999999999999999', 400],
    ['/api/v1/log/entries?logIndex=', 400],
    ['/api/v1/log/entries', 400],
    ['/api/v1/log/entries?logIndex=3', 404],
    ['/api/v1/log/entries?logIndex=9007199254740991', 404],
    ['/api/v1/log/entries/abc', 400],
    ['/api/v1/log/entries/' + 'a'.repeat(63), 400],
    ['/api/v1/log/entries/' + 'a'.repeat(65), 400],
    ['/api/v1/log/entries/' + 'a'.repeat(81), 400],
    ['/api/v1/log/entries/' + 'g'.repeat(64), 400],
    ['/api/v1/log/entries/' + 'a'.repeat(64), 404],
    ['/api/v1/log/proof?firstSize=2&lastSize=1', 400],
    ['/api/v1/log/proof?firstSize=1&lastSize=4', 400],
    ['/api/v1/log/proof?firstSize=0&lastSize=2', 400],
    ['/api/v1/log/proof?firstSize=-1&lastSize=2', 400],
    ['/api/v1/log/proof?firstSize=1', 400],
    ['/api/v1/log/proof?firstSize=1&lastSize=1e3', 400],
    ['/api/v1/log/proof?firstSize=1&lastSize=99999999999999999999', 400],
    ['/api/v1/log/proof?firstSize=1&lastSize=3&treeID=123', 404],
  ];
  for (const [path, status] of gets) {
    const res = await fetch(`${server.url}${path}`);
    await expect4xx(res, path, status);
  }
  const posts: [string, unknown][] = [
    ['/api/v1/log/entries/retrieve', {}],
    ['/api/v1/log/entries/retrieve', { logIndexes: [-1] }],
    ['/api/v1/log/entries/retrieve', { logIndexes: ['x'] }],
    ['/api/v1/log/entries/retrieve', { logIndexes: Array.from({ length: 11 }, (_, i) => i) }],
    ['/api/v1/log/entries/retrieve', { entryUUIDs: ['abc'] }],
    ['/api/v1/log/entries/retrieve', { entryUUIDs: 'abc' }],
    [
      '/api/v1/log/entries/retrieve',
      { entryUUIDs: ['a'.repeat(64)], logIndexes: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] },
    ],
    ['/api/v1/log/entries/retrieve', { entries: [{ kind: 'hashedrekord' }] }],
    ['/api/v1/log/entries/retrieve', [1]],
    ['/api/v1/index/retrieve', {}],
    ['/api/v1/index/retrieve', { hash: 'sha256:abc' }],
    ['/api/v1/index/retrieve', { hash: 'md5:' + 'a'.repeat(32) }],
    ['/api/v1/index/retrieve', { hash: 5 }],
    ['/api/v1/index/retrieve', { email: '' }],
    ['/api/v1/index/retrieve', { email: 'x'.repeat(2000) }],
    ['/api/v1/index/retrieve', { publicKey: { format: 'pgp', content: 'AAAA' } }],
    ['/api/v1/index/retrieve', { publicKey: { format: 'x509', content: '!!' } }],
    ['/api/v1/index/retrieve', { publicKey: { format: 'x509', content: b64('not a key') } }],
    ['/api/v1/index/retrieve', { email: 'a@b.c', operator: 'xor' }],
    ['/api/v1/index/retrieve', 'null'],
  ];
  for (const [path, body] of posts) {
    const res = await post(server.url, path, typeof body === 'string' ? body : JSON.stringify(body));
    await expect4xx(res, `${path} ${JSON.stringify(body).slice(0, 80)}`);
  }
  await expect4xx(await post(server.url, '/api/v1/index/retrieve', '{"hash":'), 'index malformed JSON', 400);
  const info = (await (await fetch(`${server.url}/api/v1/log`)).json()) as { treeSize: number };
  assert.equal(info.treeSize, 3);
});
