import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, sign } from 'node:crypto';
import { generateP256, sha256, spkiDer, toPem } from '../../src/crypto/index.js';
import { leafHash, verifyConsistency } from '../../src/merkle/index.js';
import { parseCheckpoint, parseSignedNote } from '../../src/bundle/signed-note.js';
import { RekorClient } from '../../src/rekor/client.js';
import { verifyLogEntry } from '../../src/rekor/verify-entry.js';
import { isSigilError } from '../../src/errors/index.js';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { createLogServer } from '../../src/rekor/server.js';
import { LOG_KEY_FILE } from '../../src/rekor/log-key.js';
import { createEntry, hashedRekord, post, selfSignedCert, startLog, tempDir } from './helpers.js';

test('create answers 201 with ETag, Location and a verifiable entry; duplicates 409 and write nothing', async (t) => {
  const server = await startLog(t, { workers: 1 });
  const s = hashedRekord(Buffer.from('artifact one'));
  const res = await post(server.url, '/api/v1/log/entries', s.entry);
  assert.equal(res.status, 201);
  const map = (await res.json()) as Record<string, { body: string; logIndex: number; logID: string }>;
  const [uuid, entry] = Object.entries(map)[0]!;
  assert.equal(res.headers.get('etag'), uuid);
  assert.equal(res.headers.get('location'), `${server.url}/api/v1/log/entries/${uuid}`);
  assert.match(uuid, /^[0-9a-f]{80}$/);
  assert.equal(uuid.slice(16), leafHash(Buffer.from(entry.body, 'base64')).toString('hex'));
  assert.equal(BigInt(`0x${uuid.slice(0, 16)}`).toString(), server.treeId);
  assert.equal(entry.logID, sha256(spkiDer(createPublicKey(server.publicKeyPem))).toString('hex'));

  const dup = await post(server.url, '/api/v1/log/entries', s.entry);
  assert.equal(dup.status, 409);
  assert.equal(dup.headers.get('location'), `${server.url}/api/v1/log/entries/${uuid}`);
  const dupBody = (await dup.json()) as { code: string; message: string };
  assert.equal(dupBody.code, 'DUPLICATE_ENTRY');
  assert.ok(dupBody.message.includes(uuid));
  const info = (await (await fetch(`${server.url}/api/v1/log`)).json()) as { treeSize: number };
  assert.equal(info.treeSize, 1);
});

test('reads by index, 80/64-hex ID and retrieve all answer the entry with a SET and proof that verify', async (t) => {
  const server = await startLog(t);
  const client = new RekorClient(server.url);
  const logKey = createPublicKey(server.publicKeyPem);
  const created = [];
  for (let i = 0; i < 7; i++) created.push(await client.createEntry(hashedRekord().entry));
  for (const c of created) verifyLogEntry(c, logKey, { checkpointName: '127.0.0.1' });

  const third = created[3]!;
  const byIndex = await client.getEntryByIndex(3);
  const byId = await client.getEntryByUuid(third.uuid);
  const byLeaf = await client.getEntryByUuid(third.uuid.slice(16).toUpperCase());
  for (const e of [byIndex!, byId!, byLeaf!]) {
    assert.equal(e.uuid, third.uuid);
    assert.equal(e.body, third.body);
    assert.equal(e.verification.inclusionProof.treeSize, 7);
    const v = verifyLogEntry(e, logKey);
    assert.equal(v.checkpoint.origin, `127.0.0.1 - ${server.treeId}`);
  }
  assert.equal(await client.getEntryByIndex(7), undefined);
  assert.equal(await client.getEntryByUuid('00'.repeat(32)), undefined);
  // An 80-hex ID of another tree is not ours.
  assert.equal(await client.getEntryByUuid('ffffffffffffffff' + third.uuid.slice(16)), undefined);

  const got = await client.retrieveEntries({
    entryUUIDs: [created[0]!.uuid],
    logIndexes: [1, 99],
    entries: [],
  });
  assert.deepEqual(
    got.map((e) => e.logIndex),
    [0, 1],
  );
  for (const e of got) verifyLogEntry(e, logKey);

  const info = await client.logInfo();
  assert.equal(info.treeSize, 7);
  const cp = parseCheckpoint(parseSignedNote(info.signedTreeHead).text);
  assert.equal(cp.rootHash.toString('hex'), info.rootHash);
  assert.equal(info.treeID, server.treeId);
  const pem = await client.publicKey();
  assert.equal(pem, server.publicKeyPem);
});

test('retrieve by proposed entry and index search by digest, key and SAN', async (t) => {
  const server = await startLog(t);
  const client = new RekorClient(server.url);
  const k = generateP256();
  const a = hashedRekord(Buffer.from('A'), k);
  const b = hashedRekord(Buffer.from('B'), k);
  const cert = await selfSignedCert([{ type: 'email', value: 'Dev@Example.com' }]);
  const c = hashedRekord(Buffer.from('A'), cert, cert.pem);
  const ea = await client.createEntry(a.entry);
  const eb = await client.createEntry(b.entry);
  const ec = await client.createEntry(c.entry);

  const found = await client.retrieveEntries({ entries: [b.entry] });
  assert.deepEqual(
    found.map((e) => e.uuid),
    [eb.uuid],
  );

  const byDigest = await client.searchIndex({ hash: `sha256:${a.digest.toString('hex')}` });
  assert.deepEqual([...byDigest].sort(), [ea.uuid, ec.uuid].sort());
  assert.deepEqual(await client.searchIndex({ hash: a.digest.toString('hex').toUpperCase() }), byDigest);
  const keyB64 = Buffer.from(toPem('PUBLIC KEY', spkiDer(k.publicKey))).toString('base64');
  const byKey = await client.searchIndex({ publicKey: { format: 'x509', content: keyB64 } });
  assert.deepEqual([...byKey].sort(), [ea.uuid, eb.uuid].sort());
  assert.deepEqual(await client.searchIndex({ email: 'dev@example.COM' }), [ec.uuid]);
  const both = await client.searchIndex({
    email: 'dev@example.com',
    hash: `sha256:${a.digest.toString('hex')}`,
    operator: 'and',
  });
  assert.deepEqual(both, [ec.uuid]);
  assert.deepEqual(await client.searchIndex({ hash: `sha256:${'0'.repeat(64)}` }), []);
});

test('consistency proofs between every pair of checkpoints verify', async (t) => {
  const server = await startLog(t);
  const client = new RekorClient(server.url);
  const roots = new Map<number, Buffer>();
  for (let i = 1; i <= 9; i++) {
    const e = await client.createEntry(hashedRekord().entry);
    roots.set(i, Buffer.from(e.verification.inclusionProof.rootHash, 'hex'));
  }
  for (let first = 1; first <= 9; first++) {
    for (let last = first; last <= 9; last++) {
      const p = await client.consistencyProof(first, last);
      assert.equal(p.rootHash, roots.get(last)!.toString('hex'));
      const hashes = p.hashes.map((h) => Buffer.from(h, 'hex'));
      assert.ok(
        verifyConsistency(first, last, roots.get(first)!, roots.get(last)!, hashes),
        `${first}→${last}`,
      );
    }
  }
  await assert.rejects(client.consistencyProof(3, 10), (e: unknown) => isSigilError(e, 'INVALID_INPUT'));
});

test('dsse entries are accepted, canonicalized and searchable by payload hash', async (t) => {
  const server = await startLog(t);
  const client = new RekorClient(server.url);
  const k = generateP256();
  const payload = Buffer.from(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: 'x', digest: { sha256: 'ab'.repeat(32) } }],
    }),
  );
  const type = 'application/vnd.in-toto+json';
  const pae = Buffer.concat([Buffer.from(`DSSEv1 ${type.length} ${type} ${payload.length} `), payload]);
  const envelope = JSON.stringify({
    payload: payload.toString('base64'),
    payloadType: type,
    signatures: [{ sig: sign('sha256', pae, k.privateKey).toString('base64'), keyid: '' }],
  });
  const verifier = Buffer.from(toPem('PUBLIC KEY', spkiDer(k.publicKey))).toString('base64');
  const e = await client.createEntry({
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: { proposedContent: { envelope, verifiers: [verifier] } },
  });
  const body = JSON.parse(Buffer.from(e.body, 'base64').toString()) as {
    spec: { payloadHash: { value: string } };
  };
  assert.equal(body.spec.payloadHash.value, sha256(payload).toString('hex'));
  verifyLogEntry(e, createPublicKey(server.publicKeyPem));
  assert.deepEqual(await client.searchIndex({ hash: `sha256:${'ab'.repeat(32)}` }), [e.uuid]);
});

test('the signing key is created once with mode 0600 and reused; checkpoints name the public URL host', async (t) => {
  const dir = tempDir(t);
  const first = await createLogServer({
    dataDir: dir,
    port: 0,
    logLevel: 'silent',
    workers: 0,
    publicUrl: 'https://log.example.test:8443/',
  });
  let logId: string;
  try {
    logId = first.logId;
    assert.equal(statSync(join(dir, LOG_KEY_FILE)).mode & 0o777, 0o600);
    const e = await createEntry(first.url, hashedRekord().entry);
    const note = parseSignedNote(e.verification.inclusionProof.checkpoint);
    assert.equal(note.signatures[0]!.name, 'log.example.test');
    assert.equal(parseCheckpoint(note.text).origin, `log.example.test - ${first.treeId}`);
    assert.equal(note.signatures[0]!.keyHint.toString('hex'), first.logId.slice(0, 8));
    const res = await post(first.url, '/api/v1/log/entries', hashedRekord().entry);
    assert.ok(res.headers.get('location')!.startsWith('https://log.example.test:8443/api/v1/log/entries/'));
  } finally {
    await first.close();
  }
  const again = await createLogServer({ dataDir: dir, port: 0, logLevel: 'silent', workers: 0 });
  try {
    assert.equal(again.logId, logId);
    assert.equal(again.log.latestTreeHead().size, 2);
  } finally {
    await again.close();
  }
});
