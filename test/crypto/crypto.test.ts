import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import {
  assertStrongKey,
  canonicalJsonString,
  fromBase64,
  fromHex,
  generateP256,
  parsePublicKeyOrCertificate,
  preAuthEncoding,
  PrehashedVerifier,
  publicKeyPem,
  sha256,
  toPem,
  spkiDer,
} from '../../src/crypto/index.js';
import { isSigilError } from '../../src/errors/index.js';

test('prehashed ECDSA verify accepts the right digest and refuses others', () => {
  const { privateKey, publicKey } = generateP256();
  const msg = Buffer.from('payload');
  const sig = sign('sha256', msg, privateKey);
  const v = new PrehashedVerifier(publicKey);
  assert.equal(v.verify(sha256(msg), sig), true);
  assert.equal(v.verify(sha256(Buffer.from('other')), sig), false);
  const bad = Buffer.from(sig);
  bad[bad.length - 1] ^= 1;
  assert.equal(v.verify(sha256(msg), bad), false);
  assert.equal(v.verify(sha256(msg), Buffer.from('garbage')), false);
});

test('canonical JSON orders keys per RFC 8785', () => {
  assert.equal(
    canonicalJsonString({ logIndex: 1, logID: 'ab', integratedTime: 5, body: 'x' }),
    '{"body":"x","integratedTime":5,"logID":"ab","logIndex":1}',
  );
});

test('DSSE PAE matches the spec example layout', () => {
  assert.equal(
    preAuthEncoding('http://example.com/HelloWorld', Buffer.from('hello world')).toString(),
    'DSSEv1 29 http://example.com/HelloWorld 11 hello world',
  );
});

test('strict base64 and hex decoding reject junk with INVALID_INPUT', () => {
  assert.throws(
    () => fromBase64('abc'),
    (e) => isSigilError(e, 'INVALID_INPUT'),
  );
  assert.throws(
    () => fromBase64('@@@@'),
    (e) => isSigilError(e, 'INVALID_INPUT'),
  );
  assert.throws(
    () => fromHex('zz'),
    (e) => isSigilError(e, 'INVALID_INPUT'),
  );
  assert.throws(
    () => fromHex('abcd', 'digest', 32),
    (e) => isSigilError(e, 'INVALID_INPUT'),
  );
  assert.deepEqual(fromBase64('AAE='), Buffer.from([0, 1]));
});

test('public keys parse from PEM and DER; weak keys are refused', () => {
  const { publicKey } = generateP256();
  const pem = publicKeyPem(publicKey);
  assert.deepEqual(spkiDer(parsePublicKeyOrCertificate(pem).key), spkiDer(publicKey));
  assert.deepEqual(spkiDer(parsePublicKeyOrCertificate(spkiDer(publicKey)).key), spkiDer(publicKey));
  assert.equal(toPem('PUBLIC KEY', spkiDer(publicKey)), pem);
  const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
  assert.throws(
    () => assertStrongKey(weak),
    (e) => isSigilError(e, 'WEAK_KEY'),
  );
  const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey;
  assert.throws(
    () => assertStrongKey(k1),
    (e) => isSigilError(e, 'WEAK_KEY'),
  );
  assert.throws(
    () => parsePublicKeyOrCertificate('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n'),
    (e) => isSigilError(e, 'INVALID_KEY'),
  );
});
