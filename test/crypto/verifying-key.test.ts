import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { test } from 'node:test';
import { VerifyingKey, canonicalEcSpki, spkiDer } from '../../src/crypto/index.js';
import { isSigilError } from '../../src/errors/index.js';

const KINDS: [string, () => { privateKey: KeyObject; publicKey: KeyObject }, string | null][] = [
  ['ecdsa-p256', () => generateKeyPairSync('ec', { namedCurve: 'P-256' }), 'sha256'],
  ['ecdsa-p384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }), 'sha384'],
  ['ecdsa-p521', () => generateKeyPairSync('ec', { namedCurve: 'P-521' }), 'sha512'],
  ['rsa', () => generateKeyPairSync('rsa', { modulusLength: 2048 }), 'sha256'],
  ['ed25519', () => generateKeyPairSync('ed25519'), null],
];

test('VerifyingKey.fromSpki agrees with node:crypto for every key kind, over data and over digests', () => {
  const data = Buffer.from('the signed thing');
  for (const [kind, gen, hash] of KINDS) {
    const { privateKey, publicKey } = gen();
    const der = spkiDer(publicKey);
    const k = VerifyingKey.fromSpki(der);
    assert.equal(k.kind, kind);
    assert.equal(k.isEcdsa, kind.startsWith('ecdsa-'));
    assert.ok(k.spki.equals(der), kind);
    assert.ok(spkiDer(k.keyObject).equals(der), kind);
    const sig = sign(hash, data, privateKey);
    assert.equal(k.verify(data, sig), verify(hash, data, publicKey, sig), kind);
    assert.equal(k.verify(data, sig), true, kind);
    assert.equal(k.verify(Buffer.from('another thing'), sig), false, kind);
    assert.equal(VerifyingKey.fromKeyObject(publicKey).verify(data, sig), true, kind);
    if (hash) {
      const digest = createHash(hash).update(data).digest();
      assert.equal(
        k.verifyDigest(digest, sig),
        kind !== 'rsa',
        `${kind} digest (RSA is over the artifact only)`,
      );
    }
  }
});

test('an explicit hash overrides the key default, and unknown hashes fall back to node:crypto', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const k = VerifyingKey.fromSpki(spkiDer(publicKey));
  const data = Buffer.from('x');
  const sig384 = sign('sha384', data, privateKey);
  assert.equal(k.verify(data, sig384, 'sha384'), true);
  assert.equal(k.verify(data, sig384), false, 'default sha256');
  const sha1 = sign('sha1', data, privateKey);
  assert.equal(k.verify(data, sha1, 'sha1'), verify('sha1', data, publicKey, sha1));
  assert.equal(k.verify(data, sha1, 'no-such-hash'), false, 'never throws');
});

test('off-curve points and garbage are INVALID_KEY; a compressed point takes the general parse', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const der = spkiDer(publicKey);
  const offCurve = Buffer.from(der);
  offCurve[offCurve.length - 1]! ^= 1;
  assert.throws(
    () => VerifyingKey.fromSpki(offCurve),
    (e: unknown) => isSigilError(e, 'INVALID_KEY'),
  );
  assert.throws(
    () => VerifyingKey.fromSpki(Buffer.from('3003020101', 'hex')),
    (e: unknown) => isSigilError(e, 'INVALID_KEY'),
  );
  // SEQUENCE { id-ecPublicKey P-256, BIT STRING 02|03 ‖ X }
  const point = der.subarray(der.length - 65);
  const compressed = Buffer.concat([
    Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex'),
    Buffer.from([2 + (point[64]! & 1)]),
    point.subarray(1, 33),
  ]);
  assert.equal(canonicalEcSpki(compressed), undefined);
  const k = VerifyingKey.fromSpki(compressed);
  const data = Buffer.from('y');
  assert.equal(k.verify(data, sign('sha256', data, privateKey)), true);
  assert.ok(
    k.spki.equals(spkiDer(createPublicKey({ key: compressed, format: 'der', type: 'spki' }))),
    'as OpenSSL re-exports it',
  );
});

test('weak keys: assertStrong refuses RSA-1024; secp256k1 is WEAK_KEY on kind', () => {
  const rsa = VerifyingKey.fromSpki(spkiDer(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey));
  assert.throws(
    () => rsa.assertStrong(),
    (e: unknown) => isSigilError(e, 'WEAK_KEY'),
  );
  const k1 = VerifyingKey.fromSpki(spkiDer(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey));
  assert.throws(
    () => k1.kind,
    (e: unknown) => isSigilError(e, 'WEAK_KEY'),
  );
  assert.equal(k1.isEcdsa, false);
  assert.equal(
    VerifyingKey.fromSpki(
      spkiDer(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey),
    ).assertStrong(),
    'ecdsa-p384',
  );
});
