import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash, generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import * as x509 from '@peculiar/x509';
import { pemBlocks, sha256Hex, spkiDer, toPem } from '../../src/crypto/index.js';
import { isSigilError, type ErrorCode } from '../../src/errors/index.js';
import { parseVerifierMaterial } from '../../src/rekor/kinds/index.js';
import { issue } from '../x509/test-ca.js';
import { name, rawCertificate } from '../x509/raw-cert.js';
import { issueFulcioLeaf } from '../x509/our-ca.js';
import { PUBLIC_SIGSTORE_DIR, requireSharedFile } from '../helpers/env.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** What parseVerifierMaterial produced for certificates before the DER-walker path (X509Certificate + @peculiar/x509). */
function before(pem: string): { canonicalPem: string; subjects: string[]; spki: Buffer } {
  const ders = pemBlocks(pem).map((b) => b.der);
  const certs = ders.map((d) => new X509Certificate(d));
  const san = new x509.X509Certificate(ders[0]!).getExtension(x509.SubjectAlternativeNameExtension);
  const subjects = new Set<string>();
  for (const n of san?.names.items ?? []) {
    if (n.type === 'dns' || n.type === 'email' || n.type === 'ip' || n.type === 'url')
      subjects.add(n.value.toLowerCase());
    if (subjects.size >= 64) break;
  }
  return {
    canonicalPem: certs.map((c) => toPem('CERTIFICATE', c.raw)).join(''),
    subjects: [...subjects],
    spki: spkiDer(certs[0]!.publicKey),
  };
}

function sameAsBefore(pem: string, what: string): void {
  const m = parseVerifierMaterial(b64(pem), 'publicKey.content');
  const old = before(pem);
  assert.equal(m.canonicalPem.toString('latin1'), old.canonicalPem, `${what}: canonical PEM`);
  assert.equal(m.pemSha256, sha256Hex(Buffer.from(old.canonicalPem, 'latin1')), `${what}: PEM digest`);
  assert.deepEqual(m.subjects, old.subjects, `${what}: index subjects`);
  assert.ok(spkiDer(m.key).equals(old.spki), `${what}: key`);
  assert.equal(m.isCertificate, true);
}

test('a Fulcio-profile chain from our CA: same canonical PEM, index subjects and key as before; the leaf key verifies prehashed', async () => {
  const { issued, keys: k } = await issueFulcioLeaf();
  const pem = issued.chain.join('');
  sameAsBefore(pem, 'chain');
  sameAsBefore(issued.chain[0]!, 'leaf');
  const m = parseVerifierMaterial(b64(pem), 'publicKey.content');
  assert.equal(m.kind, 'ecdsa-p256');
  assert.ok(m.subjects.length === 1 && m.subjects[0]!.startsWith('https://'), m.subjects.join());
  const data = Buffer.from('artifact');
  const sig = sign('sha256', data, k.privateKey);
  assert.equal(m.prehashed().verify(createHash('sha256').update(data).digest(), sig), true);
  assert.equal(m.prehashed().verify(createHash('sha256').update('other').digest(), sig), false);
});

test('SAN index keys match @peculiar/x509 for DNS, email, URI, IPv4 and IPv6 (zero runs), lowercased and deduplicated', async () => {
  const names: { type: 'dns' | 'email' | 'url' | 'ip'; value: string }[] = [
    { type: 'dns', value: 'Build.Example.COM' },
    { type: 'dns', value: 'build.example.com' },
    { type: 'email', value: 'Alice@Example.org' },
    { type: 'url', value: 'https://github.com/Org/Repo/.github/workflows/ci.yml@refs/heads/main' },
    { type: 'ip', value: '192.0.2.7' },
    { type: 'ip', value: '2001:db8::1' },
    { type: 'ip', value: '::1' },
    { type: 'ip', value: '1:0:0:2:0:0:0:3' },
    { type: 'ip', value: '1:0:2:0:3:0:4:0' },
    { type: 'ip', value: '::' },
    { type: 'ip', value: 'fe80:0:0:1::' },
  ];
  const c = await issue({
    name: 'multi',
    notBefore: new Date('2024-01-01T00:00:00Z'),
    notAfter: new Date('2034-01-01T00:00:00Z'),
    extraExtensions: [new x509.SubjectAlternativeNameExtension(names)],
  });
  const pem = toPem('CERTIFICATE', c.der);
  sameAsBefore(pem, 'multi-SAN');
  assert.equal(parseVerifierMaterial(b64(pem), 'k').subjects.length, 10, 'the duplicate DNS name once');
});

test('the public-good Fulcio certificates index as before', (t) => {
  if (!requireSharedFile(t, PUBLIC_SIGSTORE_DIR + 'trusted_root.json')) return;
  let n = 0;
  for (const f of readdirSync(PUBLIC_SIGSTORE_DIR).filter((x) => x.endsWith('.sigstore'))) {
    const vm = JSON.parse(readFileSync(PUBLIC_SIGSTORE_DIR + f, 'utf8')).verificationMaterial;
    const raws: string[] = vm.certificate
      ? [vm.certificate.rawBytes]
      : (vm.x509CertificateChain?.certificates ?? []).map((c: { rawBytes: string }) => c.rawBytes);
    if (raws.length === 0) continue;
    sameAsBefore(raws.map((r) => toPem('CERTIFICATE', Buffer.from(r, 'base64'))).join(''), f);
    n++;
  }
  assert.ok(n >= 5, `${n} bundles with certificates`);
});

test('certificates off the fast path (signature algorithm with parameters, non-minimal lengths) keep the old result; garbage is refused as before', () => {
  const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spec = {
    issuerName: name('ca'),
    subjectName: name('leaf'),
    spki: spkiDer(k.publicKey),
    signingKey: k.privateKey,
  };
  sameAsBefore(
    toPem('CERTIFICATE', rawCertificate({ ...spec, alg: 'ecdsa-sha256-null-params' })),
    'NULL parameters',
  );
  const good = rawCertificate({ ...spec, alg: 'ecdsa-sha256' });
  sameAsBefore(toPem('CERTIFICATE', good), 'plain');
  const len = good.readUInt16BE(2);
  const longForm = Buffer.concat([Buffer.from([0x30, 0x83, 0x00, len >> 8, len & 0xff]), good.subarray(4)]);
  const old = before(toPem('CERTIFICATE', longForm));
  assert.ok(old.canonicalPem === toPem('CERTIFICATE', good), 'OpenSSL re-encodes the length minimally');
  sameAsBefore(toPem('CERTIFICATE', longForm), 'non-minimal length');

  const refused = (pem: string, code: ErrorCode): void =>
    assert.throws(
      () => parseVerifierMaterial(b64(pem), 'k'),
      (e: unknown) => isSigilError(e, code),
      pem.slice(0, 40),
    );
  refused('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', 'INVALID_CERTIFICATE');
  // OpenSSL ignores bytes after the certificate, and the canonical PEM drops them: still so.
  sameAsBefore(toPem('CERTIFICATE', Buffer.concat([good, Buffer.from([0x05, 0x00])])), 'trailing bytes');
  refused(toPem('CERTIFICATE', good) + toPem('PUBLIC KEY', spkiDer(k.publicKey)), 'INVALID_CERTIFICATE');
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
  refused(
    toPem('CERTIFICATE', rawCertificate({ ...spec, spki: spkiDer(rsa.publicKey), alg: 'ecdsa-sha256' })),
    'WEAK_KEY',
  );
});
