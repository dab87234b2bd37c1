// The browser module web/verify.js, run under Node's WebCrypto against sigil's own Merkle and note code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { InMemoryLeaves, inclusionProof, leafHash, rootOf } from '../../src/merkle/index.js';
import { ecdsaKeyHint, formatCheckpoint, signNote } from '../../src/bundle/signed-note.js';
import { publicKeyPem } from '../../src/crypto/index.js';
// @ts-expect-error plain browser JS module without type declarations
import * as web from '../../web/verify.js';

const leaves = Array.from({ length: 40 }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)));

test('inclusion proofs from src/merkle lead to the same root in the browser code, for every index of trees 1..40', async () => {
  for (let size = 1; size <= leaves.length; size++) {
    const src = new InMemoryLeaves(leaves.slice(0, size));
    const root = rootOf(leaves.slice(0, size));
    for (let i = 0; i < size; i++) {
      const proof = inclusionProof(src, i, size);
      const got = await web.rootFromInclusionProof(i, size, leaves[i], proof);
      assert.ok(got && Buffer.from(got).equals(root), `size ${size} index ${i}`);
      if (proof.length > 0) {
        const bad = proof.map((p) => Buffer.from(p));
        bad[0]![0]! ^= 1;
        const other = await web.rootFromInclusionProof(i, size, leaves[i], bad);
        assert.ok(!other || !Buffer.from(other).equals(root));
      }
    }
  }
  assert.equal(await web.rootFromInclusionProof(5, 5, leaves[0], []), null);
  assert.equal(await web.rootFromInclusionProof(0, 4, leaves[0], [leaves[1]]), null, 'a short proof does not reach the top');
});

test('leaf hashes, DER→raw ECDSA signatures and checkpoints agree with Node', async () => {
  assert.equal(web.toHex(await web.leafHash(Buffer.from('abc'))), leafHash(Buffer.from('abc')).toString('hex'));
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  for (let i = 0; i < 20; i++) {
    const data = Buffer.from(`message ${i}`);
    const der = sign('sha256', data, privateKey);
    const raw = sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
    assert.equal(raw.length, 64);
    // Same key, same message, ECDSA is randomized: check that the DER form verifies after conversion.
    const key = await web.importP256PublicKey(publicKeyPem(publicKey));
    assert.equal(await web.verifyEcdsa(key.key, der, data), true);
    assert.equal(await web.verifyEcdsa(key.key, der, Buffer.from('other')), false);
  }
  const key = await web.importP256PublicKey(publicKeyPem(publicKey));
  const root = rootOf(leaves.slice(0, 7));
  const note = signNote(formatCheckpoint({ origin: 'log.example - 42', size: 7, rootHash: root, extensions: [] }), 'log.example', privateKey, ecdsaKeyHint(publicKey));
  const cp = await web.verifyCheckpoint(note, key, 'log.example');
  assert.equal(cp.size, 7);
  assert.ok(Buffer.from(cp.rootHash).equals(root));
  await assert.rejects(web.verifyCheckpoint(note.replace('\n7\n', '\n8\n'), key, 'log.example'), /does not verify/);
  await assert.rejects(web.verifyCheckpoint(note, key, 'other.example'), /no signature by other.example/);
});
