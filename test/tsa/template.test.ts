// The template token builder (src/tsa/template.ts) against the library builder it replaces on the
// hot path: for many random requests, through the real request parsers, both give the same bytes.
// The signer is RFC 6979 deterministic ECDSA (@noble/curves, the TSA's own key), so the two
// signatures over the same signed attributes are equal too; the signature is then checked with
// node:crypto over the attributes found in the token.
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, verify as nodeVerify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { SignedData } from '@peculiar/asn1-cms';
import { MessageImprint, TimeStampReq, TimeStampResp } from '@peculiar/asn1-tsp';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { createJsAddon } from '../../src/crypto/prehashed-js.js';
import { arrayBufferOf, HASH_OIDS } from '../../src/tsa/asn1.js';
import { generalizedTime, tlv } from '../../src/tsa/der.js';
import { loadOrCreateTsa } from '../../src/tsa/keys.js';
import { parseDerRequest, parseJsonRequest, type TimestampRequest } from '../../src/tsa/request.js';
import { templateToken } from '../../src/tsa/template.js';
import { defaultSigner, libraryToken, tokenParts, type SignDigest } from '../../src/tsa/token.js';

const dir = mkdtempSync(join(tmpdir(), 'sigil-tsa-template-'));
const material = await loadOrCreateTsa(dir);
rmSync(dir, { recursive: true, force: true });

const js = createJsAddon();
const handle = js.parsePrivateEcKey(material.key.export({ type: 'pkcs8', format: 'der' }));
const deterministic: SignDigest = (d) => js.signDigest(handle, d);

const POLICIES = ['1.3.6.1.4.1.57264.2', '1.2.3.4', '2.999.1.2.3.4.5.6.7.8.9'];
const LENGTH = { sha256: 32, sha384: 48, sha512: 64 } as const;
type Hash = keyof typeof LENGTH;

const arbHash = fc.constantFrom<Hash>('sha256', 'sha384', 'sha512');
/** Minimal DER INTEGER contents (a redundant leading 00/ff is a 400, see nonce-encoding.test.ts). */
const minimalDer = (b: Uint8Array): boolean =>
  b.length === 1 || !((b[0] === 0 && b[1]! < 0x80) || (b[0] === 0xff && b[1]! >= 0x80));
const arbNonce = fc.option(fc.uint8Array({ minLength: 1, maxLength: 32 }).filter(minimalDer), {
  nil: undefined,
});
const arbPolicy = fc.option(fc.constantFrom(...POLICIES), { nil: undefined });

/** A DER TimeStampReq as OpenSSL or cosign would send it, read back through parseDerRequest. */
const arbDerRequest: fc.Arbitrary<TimestampRequest> = fc
  .record({
    hash: arbHash,
    params: fc.constantFrom<'absent' | 'null'>('absent', 'null'),
    digest: fc.uint8Array({ minLength: 64, maxLength: 64 }),
    nonce: arbNonce,
    certReq: fc.boolean(),
    policy: arbPolicy,
  })
  .map((r) => {
    const req = new TimeStampReq({
      version: 1,
      messageImprint: new MessageImprint({
        hashAlgorithm: new AlgorithmIdentifier({
          algorithm: HASH_OIDS[r.hash],
          ...(r.params === 'null' ? { parameters: null } : {}),
        }),
        hashedMessage: new OctetString(arrayBufferOf(r.digest.subarray(0, LENGTH[r.hash]))),
      }),
      certReq: r.certReq,
      ...(r.nonce ? { nonce: arrayBufferOf(r.nonce) } : {}),
      ...(r.policy ? { reqPolicy: r.policy } : {}),
    });
    return parseDerRequest(Buffer.from(AsnConvert.serialize(req)));
  });

/** The JSON form (@sigstore/sign), read back through parseJsonRequest. */
const arbJsonRequest: fc.Arbitrary<TimestampRequest> = fc
  .record({
    hash: arbHash,
    digest: fc.uint8Array({ minLength: 64, maxLength: 64 }),
    nonce: fc.option(fc.bigInt({ min: 0n, max: (1n << 200n) - 1n }), { nil: undefined }),
    certificates: fc.option(fc.boolean(), { nil: undefined }),
    policy: arbPolicy,
  })
  .map((r) =>
    parseJsonRequest(
      Buffer.from(
        JSON.stringify({
          artifactHash: Buffer.from(r.digest.subarray(0, LENGTH[r.hash])).toString('base64'),
          hashAlgorithm: r.hash,
          ...(r.nonce !== undefined ? { nonce: r.nonce.toString() } : {}),
          ...(r.certificates !== undefined ? { certificates: r.certificates } : {}),
          ...(r.policy ? { tsaPolicyOID: r.policy } : {}),
        }),
      ),
    ),
  );

const arbSerial = fc.oneof(
  fc.bigInt({ min: 1n, max: 1n << 16n }),
  fc.bigInt({ min: 1n, max: (1n << 160n) - 1n }),
  fc.constantFrom(65536n, 127n, 128n, 255n, 256n, 32767n, 32768n, (1n << 63n) - 1n, 1n << 63n),
);
const arbGenTime = fc
  .integer({ min: Date.UTC(1970, 0, 1) / 1000, max: Date.UTC(9999, 11, 31, 23, 59, 59) / 1000 })
  .map((s) => new Date(s * 1000));
const arbAccuracy = fc.constantFrom(1, 999, 1000, 1500, 60_000, 3_600_000);

test('the template builder writes byte for byte the token the asn1-schema builder writes', () => {
  const builders = new Map<number, [ReturnType<typeof libraryToken>, ReturnType<typeof templateToken>]>();
  const pair = (accuracyMs: number) => {
    let b = builders.get(accuracyMs);
    if (!b) {
      const parts = tokenParts(material.chainDer, POLICIES[0]!, accuracyMs);
      b = [libraryToken(parts), templateToken(parts)];
      builders.set(accuracyMs, b);
    }
    return b;
  };
  let certs = 0;
  let nonces = 0;
  fc.assert(
    fc.property(
      fc.oneof(arbDerRequest, arbJsonRequest),
      arbSerial,
      arbGenTime,
      arbAccuracy,
      (req, serial, genTime, accuracyMs) => {
        const [library, template] = pair(accuracyMs);
        const want = library(req, serial, genTime, deterministic);
        const got = template(req, serial, genTime, deterministic);
        if (req.certReq) certs++;
        if (req.nonce) nonces++;
        assert.equal(got.toString('hex'), want.toString('hex'));
      },
    ),
    { numRuns: 400 },
  );
  assert.ok(certs > 50 && nonces > 50, `both branches ran (certReq ${certs}, nonce ${nonces})`);
});

test('template tokens carry a valid ECDSA signature over their signed attributes with every signer (node:crypto verifies)', () => {
  const template = templateToken(tokenParts(material.chainDer, POLICIES[0]!));
  const req = parseJsonRequest(
    Buffer.from(
      JSON.stringify({ artifactHash: Buffer.alloc(32, 7).toString('base64'), hashAlgorithm: 'sha256' }),
    ),
  );
  const signers: [string, SignDigest][] = [
    ['native addon', defaultSigner(material.key, true)],
    ['node:crypto (no addon)', defaultSigner(material.key, false)],
    ['RFC 6979 (@noble/curves)', deterministic],
  ];
  for (const [name, signer] of signers) {
    let seen: { digest: Buffer; data: Buffer } | undefined;
    const token = template(req, 42n, new Date(Date.UTC(2026, 11, 3, 6, 0, 0)), (digest, data) => {
      seen = { digest: Buffer.from(digest), data: Buffer.from(data) };
      return signer(digest, data);
    });
    const resp = AsnConvert.parse(token, TimeStampResp);
    const sd = AsnConvert.parse(resp.timeStampToken!.content, SignedData);
    const si = sd.signerInfos[0]!;
    const attrs = tlv(
      0x31,
      si.signedAttrs!.map((a) => Buffer.from(AsnConvert.serialize(a))),
    );
    assert.equal(si.signedAttrs!.length, 3);
    assert.deepEqual(seen!.data, attrs, `${name}: the signer saw the DER SET`);
    assert.deepEqual(createHash('sha256').update(attrs).digest(), seen!.digest);
    const sig = Buffer.from(si.signature.buffer);
    assert.equal(nodeVerify('sha256', attrs, material.key, sig), true, name);
    attrs[attrs.length - 1]! ^= 1;
    assert.equal(nodeVerify('sha256', attrs, material.key, sig), false, name);
  }
});

test('generalizedTime writes whole seconds only, as DER requires, and refuses a fraction', () => {
  assert.equal(
    generalizedTime(new Date(Date.UTC(2026, 0, 2, 3, 4, 5)))
      .subarray(2)
      .toString(),
    '20260102030405Z',
  );
  assert.throws(() => generalizedTime(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 500))), RangeError);
});
