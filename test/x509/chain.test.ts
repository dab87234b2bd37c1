import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as x509 from '@peculiar/x509';
import fc from 'fast-check';
import { isSigilError } from '../../src/errors/index.js';
import { parseCertificate } from '../../src/x509/parse.js';
import { validateChain, type CertificateAuthority } from '../../src/x509/chain.js';
import { issue, type TestCert } from './test-ca.js';

const T0 = new Date('2024-01-01T00:00:00Z');
const T_END = new Date('2034-01-01T00:00:00Z');
const SIGNED_AT = new Date('2024-06-01T00:05:00Z');
const SAN = {
  type: 'url' as const,
  value: 'https://github.com/org/repo/.github/workflows/CI-CD.yml@refs/heads/main',
};

const root = await issue({ name: 'root', notBefore: T0, notAfter: T_END, ca: true });
const inter = await issue({
  name: 'inter',
  issuer: root,
  notBefore: T0,
  notAfter: T_END,
  ca: true,
  pathLen: 0,
  codeSigning: true,
});
const leaf = await issue({
  name: 'leaf',
  issuer: inter,
  notBefore: new Date('2024-06-01T00:00:00Z'),
  notAfter: new Date('2024-06-01T00:10:00Z'),
  san: SAN,
});

const ca = (chain: TestCert[], validFor = { start: T0 }): CertificateAuthority => ({
  certChain: chain.map((c) => parseCertificate(c.der)),
  validFor,
});

function rejects(fn: () => unknown, code: string, re?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isSigilError(e), String(e));
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  });
}

test('an expired-now leaf verifies at the integrated time', () => {
  const parsed = parseCertificate(leaf.der);
  assert.ok(parsed.notAfter < new Date(), 'the leaf has expired by now');
  const path = validateChain(parsed, [ca([inter, root])], { at: SIGNED_AT });
  assert.equal(path.length, 3);
  assert.ok(path[2]!.der.equals(root.der));
});

test('a leaf that was not valid at the integrated time is refused, even if valid now', async () => {
  const now = Date.now();
  const current = await issue({
    name: 'cur',
    issuer: inter,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 600_000),
    san: SAN,
  });
  assert.ok(validateChain(parseCertificate(current.der), [ca([inter, root])], { at: new Date(now) }));
  rejects(
    () => validateChain(parseCertificate(current.der), [ca([inter, root])], { at: SIGNED_AT }),
    'CERTIFICATE_EXPIRED',
    /signing certificate was not valid/,
  );
  rejects(
    () =>
      validateChain(parseCertificate(leaf.der), [ca([inter, root])], {
        at: new Date('2024-06-01T00:10:01Z'),
      }),
    'CERTIFICATE_EXPIRED',
  );
});

test('a CA whose validFor does not cover the time is not used', () => {
  rejects(
    () =>
      validateChain(
        parseCertificate(leaf.der),
        [ca([inter, root], { start: new Date('2025-01-01T00:00:00Z') })],
        { at: SIGNED_AT },
      ),
    'CERTIFICATE_CHAIN_FAILED',
    /no certificate authority/,
  );
});

test('a wrong anchor fails; the right one among several succeeds', async () => {
  const otherRoot = await issue({ name: 'root', notBefore: T0, notAfter: T_END, ca: true }); // same name, other key
  rejects(
    () => validateChain(parseCertificate(leaf.der), [ca([otherRoot])], { at: SIGNED_AT }),
    'CERTIFICATE_CHAIN_FAILED',
  );
  assert.equal(
    validateChain(parseCertificate(leaf.der), [ca([otherRoot]), ca([inter, root])], { at: SIGNED_AT }).length,
    3,
  );
  // the intermediate may also come from the signed thing, untrusted, when the root is the anchor
  assert.equal(
    validateChain(parseCertificate(leaf.der), [ca([root])], {
      at: SIGNED_AT,
      untrustedIntermediates: [parseCertificate(inter.der)],
    }).length,
    3,
  );
  rejects(
    () => validateChain(parseCertificate(leaf.der), [ca([root])], { at: SIGNED_AT }),
    'CERTIFICATE_CHAIN_FAILED',
  );
});

test('leaf checks: codeSigning EKU, not a CA, no unknown critical extension', async () => {
  const noEku = await issue({
    name: 'x',
    issuer: inter,
    notBefore: T0,
    notAfter: T_END,
    san: SAN,
    codeSigning: false,
  });
  rejects(
    () => validateChain(parseCertificate(noEku.der), [ca([inter, root])], { at: SIGNED_AT }),
    'CERTIFICATE_CHAIN_FAILED',
    /codeSigning/,
  );
  const critical = await issue({
    name: 'x',
    issuer: inter,
    notBefore: T0,
    notAfter: T_END,
    san: SAN,
    extraExtensions: [new x509.Extension('1.2.3.4', true, new Uint8Array([5, 0]))],
  });
  rejects(
    () => validateChain(parseCertificate(critical.der), [ca([inter, root])], { at: SIGNED_AT }),
    'CERTIFICATE_CHAIN_FAILED',
    /critical/,
  );
  rejects(
    () => validateChain(parseCertificate(inter.der), [ca([root])], { at: SIGNED_AT }),
    'CERTIFICATE_CHAIN_FAILED',
    /CA certificate/,
  );
});

test('path length and CA constraints hold; more than 10 intermediates are refused', async () => {
  // inter has pathLen 0: a sub-CA under it cannot issue leaves
  const sub = await issue({
    name: 'sub',
    issuer: inter,
    notBefore: T0,
    notAfter: T_END,
    ca: true,
    codeSigning: true,
  });
  const deep = await issue({ name: 'deep', issuer: sub, notBefore: T0, notAfter: T_END, san: SAN });
  rejects(
    () => validateChain(parseCertificate(deep.der), [ca([sub, inter, root])], { at: SIGNED_AT }),
    'CERTIFICATE_CHAIN_FAILED',
    /path length/,
  );
  // a non-CA "issuer"
  const notCa = await issue({ name: 'notca', issuer: root, notBefore: T0, notAfter: T_END });
  const under = await issue({ name: 'under', issuer: notCa, notBefore: T0, notAfter: T_END, san: SAN });
  rejects(
    () => validateChain(parseCertificate(under.der), [ca([notCa, root])], { at: SIGNED_AT }),
    'CERTIFICATE_CHAIN_FAILED',
    /not a CA/,
  );
  // 11 intermediates
  const chain: TestCert[] = [root];
  for (let i = 0; i < 11; i++)
    chain.unshift(
      await issue({ name: `i${i}`, issuer: chain[0]!, notBefore: T0, notAfter: T_END, ca: true }),
    );
  const longLeaf = await issue({ name: 'long', issuer: chain[0]!, notBefore: T0, notAfter: T_END, san: SAN });
  rejects(
    () => validateChain(parseCertificate(longLeaf.der), [ca(chain)], { at: SIGNED_AT }),
    'CERTIFICATE_CHAIN_FAILED',
  );
  rejects(
    () =>
      validateChain(parseCertificate(longLeaf.der), [ca([root])], {
        at: SIGNED_AT,
        untrustedIntermediates: chain.slice(0, 11).map((c) => parseCertificate(c.der)),
      }),
    'CERTIFICATE_CHAIN_FAILED',
    /more than 10/,
  );
  // 10 are fine
  const ten = chain.slice(1);
  const tenLeaf = await issue({ name: 'ten', issuer: ten[0]!, notBefore: T0, notAfter: T_END, san: SAN });
  assert.equal(validateChain(parseCertificate(tenLeaf.der), [ca(ten)], { at: SIGNED_AT }).length, 12);
});

test('a leaf with a tampered signature does not chain', () => {
  const der = Buffer.from(leaf.der);
  der[der.length - 5]! ^= 0x01;
  let parsed;
  try {
    parsed = parseCertificate(der);
  } catch (e) {
    assert.ok(isSigilError(e, 'INVALID_CERTIFICATE'));
    return;
  }
  rejects(() => validateChain(parsed, [ca([inter, root])], { at: SIGNED_AT }), 'CERTIFICATE_CHAIN_FAILED');
});

test('parseCertificate throws only SigilError on random and mutated input', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
      try {
        parseCertificate(b);
      } catch (e) {
        if (!isSigilError(e)) throw e;
      }
    }),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.nat(leaf.der.length - 1), fc.nat(255), (pos, byte) => {
      const der = Buffer.from(leaf.der);
      der[pos] = byte;
      try {
        parseCertificate(der);
      } catch (e) {
        if (!isSigilError(e)) throw e;
      }
    }),
    { numRuns: 300 },
  );
});
