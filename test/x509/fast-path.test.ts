import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { isSigilError } from '../../src/errors/index.js';
import { spkiDer } from '../../src/crypto/index.js';
import { parseCertificate, type ParsedCertificate } from '../../src/x509/parse.js';
import { signatureVerifies } from '../../src/x509/issued-by.js';
import { validateChain } from '../../src/x509/chain.js';
import { seq, tlv, tlvOf, oid, bitString } from '../../src/x509/build.js';
import { name, rawCertificate, type AlgName } from './raw-cert.js';
import { issueFulcioLeaf } from './our-ca.js';

function invalidCertificate(der: Buffer, re?: RegExp): void {
  assert.throws(
    () => parseCertificate(der),
    (e: unknown) => isSigilError(e, 'INVALID_CERTIFICATE') && (!re || re.test(e.message)),
  );
}

/** What OpenSSL says: X509Certificate.verify with the issuer's KeyObject. */
function opensslVerifies(child: ParsedCertificate, issuerKey: KeyObject): boolean {
  try {
    return new X509Certificate(child.der).verify(issuerKey);
  } catch {
    return false;
  }
}

test('a Fulcio-profile certificate from our CA: the DER walk agrees with OpenSSL, and its chain verifies on the digest path', async () => {
  const { ca, issued, keys } = await issueFulcioLeaf();
  const signer = keys.publicKey;
  const leaf = parseCertificate(issued.leafDer);
  const inter = parseCertificate(ca.intermediateDer);
  const root = parseCertificate(ca.rootDer);
  const openssl = new X509Certificate(issued.leafDer);
  assert.ok(leaf.spki.equals(spkiDer(signer)));
  assert.ok(spkiDer(leaf.publicKey).equals(openssl.publicKey.export({ type: 'spki', format: 'der' })));
  assert.equal(leaf.key.kind, 'ecdsa-p256');
  assert.equal(inter.key.kind, 'ecdsa-p384');
  assert.equal(leaf.x509.fingerprint256, openssl.fingerprint256);
  assert.equal(signatureVerifies(leaf, inter), true);
  assert.equal(signatureVerifies(leaf, inter), opensslVerifies(leaf, inter.publicKey));
  assert.equal(signatureVerifies(inter, root), opensslVerifies(inter, root.publicKey));
  assert.equal(signatureVerifies(leaf, root), false);
  assert.equal(opensslVerifies(leaf, root.publicKey), false);
  const tampered = Buffer.from(issued.leafDer);
  tampered[tampered.length - 5]! ^= 1;
  const bad = parseCertificate(tampered);
  assert.equal(signatureVerifies(bad, inter), false);
  assert.equal(opensslVerifies(bad, inter.publicKey), false);
  const path = validateChain(leaf, [{ certChain: [inter, root], validFor: { start: new Date(0) } }], {
    at: new Date(),
  });
  assert.equal(path.length, 3);
});

const KEYS: [string, () => { privateKey: KeyObject; publicKey: KeyObject }, AlgName[]][] = [
  [
    'P-256',
    () => generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    ['ecdsa-sha256', 'ecdsa-sha384', 'ecdsa-sha256-null-params'],
  ],
  ['P-384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }), ['ecdsa-sha384']],
  ['P-521', () => generateKeyPairSync('ec', { namedCurve: 'P-521' }), ['ecdsa-sha512']],
  ['RSA-2048', () => generateKeyPairSync('rsa', { modulusLength: 2048 }), ['rsa-sha256']],
  ['Ed25519', () => generateKeyPairSync('ed25519'), ['ed25519']],
];

test('issuer signatures: the digest path and the X509Certificate path agree, good and bad, for every key kind', () => {
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  for (const [label, gen, algs] of KEYS) {
    const issuerKeys = gen();
    for (const alg of algs) {
      const issuer = parseCertificate(
        rawCertificate({
          issuerName: name('ca'),
          subjectName: name('ca'),
          spki: spkiDer(issuerKeys.publicKey),
          alg,
          signingKey: issuerKeys.privateKey,
        }),
      );
      const spec = {
        issuerName: name('ca'),
        subjectName: name('leaf'),
        spki: spkiDer(other.publicKey),
        alg,
        signingKey: issuerKeys.privateKey,
      };
      const child = parseCertificate(rawCertificate(spec));
      const what = `${label} ${alg}`;
      assert.equal(signatureVerifies(child, issuer), true, what);
      assert.equal(opensslVerifies(child, issuer.publicKey), true, what);
      const flipped = Buffer.from(child.der);
      flipped[flipped.length - 3]! ^= 0x10;
      const forged = parseCertificate(flipped);
      assert.equal(signatureVerifies(forged, issuer), false, `${what} flipped`);
      assert.equal(opensslVerifies(forged, issuer.publicKey), false, `${what} flipped`);
      const stranger = parseCertificate(
        rawCertificate({
          issuerName: name('x'),
          subjectName: name('x'),
          spki: spkiDer(other.publicKey),
          alg: 'ecdsa-sha256',
          signingKey: other.privateKey,
        }),
      );
      assert.equal(signatureVerifies(child, stranger), false, `${what} wrong issuer`);
      assert.equal(opensslVerifies(child, stranger.publicKey), false, `${what} wrong issuer`);
      const unusedBits = parseCertificate(rawCertificate(spec, 3));
      assert.equal(signatureVerifies(unusedBits, issuer), false, `${what} unused bits`);
      assert.equal(opensslVerifies(unusedBits, issuer.publicKey), false, `${what} unused bits`);
    }
  }
});

test('malformed certificates are INVALID_CERTIFICATE: bad keys, trailing bytes, non-minimal lengths, bad version and names', () => {
  const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const base = {
    issuerName: name('ca'),
    subjectName: name('leaf'),
    spki: spkiDer(k.publicKey),
    alg: 'ecdsa-sha256' as const,
    signingKey: k.privateKey,
  };
  const good = rawCertificate(base);
  parseCertificate(good);

  const offCurve = Buffer.from(base.spki);
  offCurve[offCurve.length - 1]! ^= 1;
  invalidCertificate(rawCertificate({ ...base, spki: offCurve }), /public key/);
  const unknownKey = seq(seq(oid('1.2.3.4')), bitString(Buffer.from([1, 2, 3])));
  invalidCertificate(rawCertificate({ ...base, spki: unknownKey }), /public key/);
  invalidCertificate(Buffer.concat([good, Buffer.from([0])]), /trailing/);

  // The outer length written in three bytes instead of two.
  const len = good.readUInt16BE(2);
  const longForm = Buffer.concat([Buffer.from([0x30, 0x83, 0x00, len >> 8, len & 0xff]), good.subarray(4)]);
  invalidCertificate(longForm, /non-minimal/);

  invalidCertificate(rawCertificate({ ...base, version: tlv(0xa0, tlv(0x02, Buffer.from([7]))) }), /version/);
  invalidCertificate(rawCertificate({ ...base, version: tlv(0xa0, tlv(0x04, Buffer.from([2]))) }));
  const rdnNotSet = seq(seq(seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from('x')))));
  invalidCertificate(rawCertificate({ ...base, subjectName: rdnNotSet }));
  const emptyRdn = seq(tlvOf(0x31, []));
  invalidCertificate(rawCertificate({ ...base, issuerName: emptyRdn }));
  // Strings OpenSSL cannot convert to UTF-8: both refuse.
  for (const value of [
    tlv(0x0c, Buffer.from([0xc3, 0x28])),
    tlv(0x1e, Buffer.from([0, 0x41, 0])),
    tlv(0x1c, Buffer.from([0, 0, 0x41])),
  ]) {
    const der = rawCertificate({ ...base, subjectName: name(value) });
    invalidCertificate(der);
    assert.throws(() => new X509Certificate(der));
  }
});

test('x509 and publicKey are made on first use, and match what OpenSSL parses', () => {
  for (const [label, gen] of KEYS) {
    const k = gen();
    const alg = KEYS.find(([l]) => l === label)![2][0]!;
    const der = rawCertificate({
      issuerName: name('ca'),
      subjectName: name('leaf'),
      spki: spkiDer(k.publicKey),
      alg,
      signingKey: k.privateKey,
    });
    const c = parseCertificate(der);
    assert.ok(spkiDer(c.publicKey).equals(spkiDer(k.publicKey)), label);
    assert.ok(c.key.spki.equals(spkiDer(k.publicKey)), label);
    assert.equal(c.x509.serialNumber, new X509Certificate(der).serialNumber, label);
    assert.equal(c.publicKey, c.publicKey, 'made once');
  }
});
