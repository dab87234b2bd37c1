import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign, verify } from 'node:crypto';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { canonicalEcSpki } from '../../src/crypto/index.js';
import { createJsAddon, type NativeAddon } from '../../src/crypto/prehashed-js.js';

const native = createRequire(import.meta.url)('../../native/build/Release/sigil_native.node') as NativeAddon;
const js = createJsAddon();
const HASH = { 'P-256': 'sha256', 'P-384': 'sha384', 'P-521': 'sha512' } as const;

for (const curve of ['P-256', 'P-384', 'P-521'] as const) {
  test(`${curve}: the pure-JS path gives the native addon's answers (verify both ways, sign, reject)`, () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
    const data = Buffer.from(`payload for ${curve}`);
    const digest = createHash(HASH[curve]).update(data).digest();
    const other = createHash(HASH[curve]).update('something else').digest();
    const byOpenssl = sign(HASH[curve], data, privateKey);
    const byJs = js.signDigest(js.parsePrivateEcKey(pkcs8), digest);
    assert.ok(verify(HASH[curve], data, publicKey, byJs), 'OpenSSL accepts what the JS path signs');

    const ec = canonicalEcSpki(spki)!;
    for (const addon of [native, js]) {
      for (const key of [addon.parseKey(spki), addon.parseEcPoint(ec.bits, ec.point)]) {
        assert.equal(addon.verify(key, digest, byOpenssl), true);
        assert.equal(addon.verify(key, digest, byJs), true);
        assert.equal(addon.verify(key, other, byOpenssl), false, 'another digest');
        assert.equal(addon.verify(key, digest, Buffer.from('30021234', 'hex')), false, 'garbage DER');
      }
    }
    const offCurve = Buffer.from(ec.point);
    offCurve[offCurve.length - 1]! ^= 1;
    assert.throws(() => native.parseEcPoint(ec.bits, offCurve));
    assert.throws(() => js.parseEcPoint(ec.bits, offCurve));
  });
}

test('an Ed25519 or RSA key parses but never verifies a prehashed signature on the JS path', () => {
  for (const kind of ['ed25519', 'rsa'] as const) {
    const { publicKey } =
      kind === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519');
    const key = js.parseKey(publicKey.export({ type: 'spki', format: 'der' }));
    assert.equal(js.verify(key, Buffer.alloc(32), Buffer.from('3006020101020101', 'hex')), false);
  }
});
