import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign, verify } from 'node:crypto';
import { test } from 'node:test';
import {
  canonicalEcSpki,
  PrehashedVerifier,
  publicKeyFromDer,
  signData,
  toPem,
} from '../../src/crypto/index.js';
import { signDigestEc } from '../../src/crypto/prehashed.js';
import { parseVerifierMaterial } from '../../src/rekor/kinds/index.js';

const b64Pem = (der: Buffer): string => Buffer.from(toPem('PUBLIC KEY', der)).toString('base64');

for (const curve of ['P-256', 'P-384', 'P-521'] as const) {
  test(`${curve}: a canonical SPKI takes the raw-point verifier, which agrees with the general parse`, () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
    const der = publicKey.export({ type: 'spki', format: 'der' });
    const ec = canonicalEcSpki(der);
    assert.ok(ec, 'recognized');
    assert.equal(ec.point.length, { 'P-256': 65, 'P-384': 97, 'P-521': 133 }[curve]);
    assert.equal(ec.point[0], 0x04);

    const data = Buffer.from(`payload for ${curve}`);
    const digest = createHash('sha256').update(data).digest();
    const sig = sign('sha256', data, privateKey);
    const fast = new PrehashedVerifier({ ec });
    const general = new PrehashedVerifier(publicKeyFromDer(der));
    assert.equal(fast.verify(digest, sig), true);
    assert.equal(general.verify(digest, sig), true);
    const other = createHash('sha256').update('something else').digest();
    assert.equal(fast.verify(other, sig), false, 'a signature over another digest fails');
    assert.equal(fast.verify(digest, Buffer.from('30021234', 'hex')), false, 'garbage DER fails');

    // The material built from the fast path is the one the slow path would build.
    const m = parseVerifierMaterial(b64Pem(der), 'key');
    assert.equal(m.kind, `ecdsa-${curve.toLowerCase().replace('-', '')}`);
    assert.equal(
      m.canonicalPem.toString(),
      toPem('PUBLIC KEY', publicKey.export({ type: 'spki', format: 'der' })),
    );
    assert.equal(m.key.asymmetricKeyType, 'ec', 'a KeyObject is still there when asked for');
  });
}

test('non-canonical or foreign SPKIs take the general parse; points off the curve are INVALID_KEY', () => {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const compressed = publicKey.export({
    type: 'spki',
    format: 'der',
    ...({ ecPointFormat: 'compressed' } as object),
  }) as Buffer;
  assert.equal(canonicalEcSpki(der.subarray(0, der.length - 1)), undefined, 'truncated');
  assert.equal(
    canonicalEcSpki(generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' })),
    undefined,
  );
  if (compressed.length !== der.length) {
    assert.equal(canonicalEcSpki(compressed), undefined, 'a compressed point is not the canonical form');
    const m = parseVerifierMaterial(b64Pem(compressed), 'key');
    assert.equal(
      m.canonicalPem.toString(),
      toPem('PUBLIC KEY', der),
      'canonicalized to the uncompressed form',
    );
  }
  const offCurve = Buffer.from(der);
  offCurve[offCurve.length - 1] ^= 0x01;
  assert.ok(canonicalEcSpki(offCurve), 'the encoding is canonical');
  assert.throws(
    () => parseVerifierMaterial(b64Pem(offCurve), 'key'),
    (e: unknown) => (e as { code?: string }).code === 'INVALID_KEY',
  );
});

for (const curve of ['P-256', 'P-384', 'P-521'] as const) {
  test(`${curve}: signData signs through the addon, and node:crypto verifies each (randomized) signature`, () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
    const hash = { 'P-256': 'sha256', 'P-384': 'sha384', 'P-521': 'sha512' }[curve];
    const data = Buffer.from(`signed by ${curve}`);
    const a = signData(privateKey, data);
    const b = signData(privateKey, data);
    assert.notDeepEqual(a, b, 'ECDSA nonces differ between signatures');
    for (const s of [a, b]) assert.equal(verify(hash, data, publicKey, s), true);
    assert.equal(verify(hash, Buffer.from('other'), publicKey, a), false);
    assert.throws(
      () => signDigestEc(publicKey, createHash(hash).update(data).digest()),
      'a public key cannot sign',
    );
  });
}

test('signData keeps node:crypto for Ed25519', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const s = signData(privateKey, Buffer.from('x'));
  assert.equal(verify(null, Buffer.from('x'), publicKey, s), true);
});
