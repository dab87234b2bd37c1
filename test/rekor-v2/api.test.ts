import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { ed25519ph } from '@noble/curves/ed25519.js';
import { FieldReader } from '../../src/bundle/protojson.js';
import { parseTlogEntry } from '../../src/bundle/bundle.js';
import { decodeEntryBundle } from '../../src/log/tiles/bundle.js';
import { ecdsaKeyHint, parseCheckpoint, parseSignedNote, verifyNote } from '../../src/bundle/signed-note.js';
import { leafHash, verifyInclusion } from '../../src/merkle/index.js';
import { spkiDer } from '../../src/crypto/index.js';
import { b64, dsseRequest, hashedRekordRequest, p256, post, startV2 } from './helpers.js';
import type { RekorV2Server } from '../../src/rekor-v2/server.js';

/** Checks a 201 answer as a Rekor v2 client would: kindVersion, body, proof to the signed checkpoint. */
async function checkCreated(
  server: RekorV2Server,
  res: Response,
  kind: string,
): Promise<Record<string, unknown>> {
  const text = await res.text();
  assert.equal(res.status, 201, text);
  const json = JSON.parse(text) as Record<string, unknown>;
  assert.equal(json.integratedTime, '0', 'Rekor v2 entries carry no integrated time');
  assert.equal(json.inclusionPromise, undefined, 'no SET');
  const e = parseTlogEntry(new FieldReader('INVALID_ENTRY', 'tle'), json);
  assert.deepEqual(e.kindVersion, { kind, version: '0.0.2' });
  assert.ok(e.logId.equals(server.logId), 'logId.keyId is the checkpoint key ID (SHA-256 of the SPKI)');
  const p = e.inclusionProof!;
  assert.ok(verifyInclusion(p.logIndex, p.treeSize, leafHash(e.canonicalizedBody), p.hashes, p.rootHash));
  const note = parseSignedNote(p.checkpoint!);
  const key = createPublicKey(server.publicKeyPem);
  assert.ok(verifyNote(note, server.origin, ecdsaKeyHint(key), key), 'checkpoint signed by the v2 log key');
  const cp = parseCheckpoint(note.text);
  assert.equal(cp.origin, server.origin);
  assert.equal(cp.size, p.treeSize);
  assert.ok(cp.rootHash.equals(p.rootHash));
  return JSON.parse(e.canonicalizedBody.toString('utf8')) as Record<string, unknown>;
}

test('hashedrekord v0.0.2: P-256 key logged byte for byte as rekor-tiles canonicalizes it', async (t) => {
  const server = await startV2(t);
  const keys = p256();
  const r = hashedRekordRequest(Buffer.from('hello v2'), keys);
  const res = await post(server.url, r.body);
  const json = (await res.clone().json()) as { canonicalizedBody: string };
  await checkCreated(server, res, 'hashedrekord');
  const expected =
    `{"apiVersion":"0.0.2","kind":"hashedrekord","spec":{"hashedRekordV002":{"data":{"algorithm":"SHA2_256","digest":"${b64(r.digest)}"},` +
    `"signature":{"content":"${b64(r.signature)}","verifier":{"keyDetails":"PKIX_ECDSA_P256_SHA_256","publicKey":{"rawBytes":"${b64(spkiDer(keys.publicKey))}"}}}}}}`;
  assert.equal(Buffer.from(json.canonicalizedBody, 'base64').toString('utf8'), expected);
});

test('hashedrekord v0.0.2: P-384, P-521, RSA 2048/4096 PKCS#1 v1.5 and Ed25519ph are accepted', async (t) => {
  const server = await startV2(t);
  const cases: [string, Parameters<typeof hashedRekordRequest>[1], string, string][] = [
    ['P-384', generateKeyPairSync('ec', { namedCurve: 'P-384' }), 'sha384', 'PKIX_ECDSA_P384_SHA_384'],
    ['P-521', generateKeyPairSync('ec', { namedCurve: 'P-521' }), 'sha512', 'PKIX_ECDSA_P521_SHA_512'],
    [
      'RSA-2048',
      generateKeyPairSync('rsa', { modulusLength: 2048 }),
      'sha256',
      'PKIX_RSA_PKCS1V15_2048_SHA256',
    ],
    [
      'RSA-4096',
      generateKeyPairSync('rsa', { modulusLength: 4096 }),
      'sha256',
      'PKIX_RSA_PKCS1V15_4096_SHA256',
    ],
  ];
  for (const [name, keys, hash, details] of cases) {
    const r = hashedRekordRequest(undefined, keys, { hash, keyDetails: details });
    const body = await checkCreated(server, await post(server.url, r.body), 'hashedrekord');
    const data = (body.spec as { hashedRekordV002: { data: { algorithm: string } } }).hashedRekordV002.data;
    assert.equal(data.algorithm, { sha256: 'SHA2_256', sha384: 'SHA2_384', sha512: 'SHA2_512' }[hash], name);
  }
  // Ed25519ph: the client signs SHA-512(message) with the prehash domain (RFC 8032 §5.1).
  const { secretKey, publicKey } = ed25519ph.keygen();
  const msg = Buffer.from('ed25519ph artifact');
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), publicKey]);
  const req = {
    hashedRekordRequestV002: {
      digest: b64(createHash('sha512').update(msg).digest()),
      signature: {
        content: b64(Buffer.from(ed25519ph.sign(msg, secretKey))),
        verifier: { publicKey: { rawBytes: b64(spki) }, keyDetails: 'PKIX_ED25519_PH' },
      },
    },
  };
  await checkCreated(server, await post(server.url, req), 'hashedrekord');
  // The same signature over another digest does not verify.
  req.hashedRekordRequestV002.digest = b64(createHash('sha512').update('other').digest());
  const bad = await post(server.url, req);
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as { code: string }).code, 'INVALID_SIGNATURE');
});

test('dsse v0.0.2 as @sigstore/sign 5.1 sends it: payload hash and the verified signature logged', async (t) => {
  const server = await startV2(t);
  const keys = p256();
  const r = dsseRequest(undefined, keys);
  const body = await checkCreated(server, await post(server.url, r.body), 'dsse');
  assert.deepEqual(body.spec, {
    dsseV002: {
      payloadHash: { algorithm: 'SHA2_256', digest: b64(createHash('sha256').update(r.payload).digest()) },
      signatures: [
        {
          content: b64(r.signature),
          verifier: {
            keyDetails: 'PKIX_ECDSA_P256_SHA_256',
            publicKey: { rawBytes: b64(spkiDer(keys.publicKey)) },
          },
        },
      ],
    },
  });
});

test('a duplicate is 409 with x-log-index of the first entry, and nothing is written', async (t) => {
  const server = await startV2(t);
  const r = hashedRekordRequest();
  const first = await post(server.url, r.body);
  const created = (await first.json()) as { logIndex: string };
  assert.equal(first.status, 201);
  const size = server.log.latestTreeHead().size;
  const again = await post(server.url, r.body);
  assert.equal(again.status, 409);
  assert.equal(again.headers.get('x-log-index'), created.logIndex);
  const err = (await again.json()) as { code: string; message: string };
  assert.equal(err.code, 'DUPLICATE_ENTRY');
  assert.equal(server.log.latestTreeHead().size, size);
  // Concurrent duplicates: exactly one 201.
  const d = dsseRequest();
  const statuses = await Promise.all(
    Array.from({ length: 8 }, () => post(server.url, d.body).then((x) => x.status)),
  );
  assert.deepEqual(statuses.sort(), [201, 409, 409, 409, 409, 409, 409, 409]);
});

test('C2SP tlog-tiles read path: /checkpoint and /tile/entries hold what was acknowledged', async (t) => {
  const server = await startV2(t);
  const bodies: Buffer[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await post(server.url, hashedRekordRequest().body);
    bodies.push(
      Buffer.from(((await res.json()) as { canonicalizedBody: string }).canonicalizedBody, 'base64'),
    );
  }
  await server.tiles.writer.sync();
  const cp = await fetch(`${server.url}/checkpoint`);
  assert.equal(cp.status, 200);
  const note = parseSignedNote(await cp.text());
  const key = createPublicKey(server.publicKeyPem);
  assert.ok(verifyNote(note, server.origin, ecdsaKeyHint(key), key));
  assert.equal(parseCheckpoint(note.text).size, 5);
  const bundle = await fetch(`${server.url}/tile/entries/000.p/5`);
  assert.equal(bundle.status, 200);
  const entries = decodeEntryBundle(Buffer.from(await bundle.arrayBuffer()));
  assert.deepEqual(entries, bodies);
  const level0 = Buffer.from(await (await fetch(`${server.url}/tile/0/000.p/5`)).arrayBuffer());
  assert.ok(level0.subarray(0, 32).equals(leafHash(bodies[0]!)));
});

test('pushback: 503 with Retry-After when the server is at capacity', async (t) => {
  const server = await startV2(t, { maxInFlight: 4 });
  const requests = Array.from({ length: 64 }, () => hashedRekordRequest().body);
  const answers = await Promise.all(requests.map((b) => post(server.url, b)));
  const refused = answers.filter((a) => a.status === 503);
  assert.ok(refused.length > 0, 'some requests were refused');
  for (const a of refused) {
    assert.equal(a.headers.get('retry-after'), '1');
    assert.equal(((await a.json()) as { code: string }).code, 'PUSHBACK');
  }
  const ok = answers.filter((a) => a.status === 201).length;
  assert.equal(ok + refused.length, 64, 'every other request was logged');
  assert.equal(server.log.latestTreeHead().size, ok, 'refused requests wrote nothing');
  // The log core's own queue bound answers the same way.
  const queued = await startV2(t, { maxPending: 1 });
  const many = await Promise.all(
    Array.from({ length: 64 }, () => post(queued.url, hashedRekordRequest().body)),
  );
  const busy = many.filter((a) => a.status === 503);
  assert.ok(busy.length > 0, 'the core queue refused some');
  assert.equal(busy[0]!.headers.get('retry-after'), '1');
});

test('with worker threads verifying: entries, their errors and concurrent batches come back right', async (t) => {
  const server = await startV2(t, { workers: 2 });
  const good = Array.from({ length: 40 }, () => hashedRekordRequest());
  const bad = hashedRekordRequest().body as { hashedRekordRequestV002: { digest: string } };
  bad.hashedRekordRequestV002.digest = b64(Buffer.alloc(32, 9));
  const answers = await Promise.all([...good.map((g) => post(server.url, g.body)), post(server.url, bad)]);
  const refused = answers.pop()!;
  assert.equal(refused.status, 400);
  assert.equal(((await refused.json()) as { code: string }).code, 'INVALID_SIGNATURE');
  for (const [i, a] of answers.entries()) {
    const body = await checkCreated(server, a, 'hashedrekord');
    const data = (body.spec as { hashedRekordV002: { data: { digest: string } } }).hashedRekordV002.data;
    assert.equal(data.digest, b64(good[i]!.digest), 'each answer carries its own entry');
  }
  assert.equal(server.log.latestTreeHead().size, 40);
});
