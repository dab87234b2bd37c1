// Rekor v2 entry bodies (hashedrekord and dsse 0.0.2) cross-checked against the bundle.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSigilError } from '../../src/errors/index.js';
import { generateP256, preAuthEncoding, sha256, signData, spkiDer } from '../../src/crypto/index.js';
import type { BundleContent, TransparencyLogEntry } from '../../src/bundle/index.js';
import { checkEntryBody } from '../../src/verify/index.js';

const key = generateP256();
const spki = spkiDer(key.publicKey);
const payload = Buffer.from('{"_type":"https://in-toto.io/Statement/v1","subject":[]}');
const payloadType = 'application/vnd.in-toto+json';
const sig = signData(key.privateKey, preAuthEncoding(payloadType, payload));
const dsse: BundleContent = {
  kind: 'dsseEnvelope',
  envelope: { payload, payloadType, signatures: [{ sig, keyid: '' }] },
};
const b64 = (b: Buffer): string => b.toString('base64');
const verifier = { publicKey: { rawBytes: b64(spki) }, keyDetails: 'PKIX_ECDSA_P256_SHA_256' };

function entry(kind: string, spec: unknown): TransparencyLogEntry {
  return {
    logIndex: 0,
    logId: Buffer.alloc(32),
    kindVersion: { kind, version: '0.0.2' },
    integratedTime: 0,
    canonicalizedBody: Buffer.from(JSON.stringify({ apiVersion: '0.0.2', kind, spec })),
  };
}

const mismatch = (fn: () => void, m: RegExp): void =>
  assert.throws(fn, (e: unknown) => isSigilError(e, 'TLOG_ENTRY_MISMATCH') && m.test(e.message));

test('dsse 0.0.2: payload hash, the one signature and its verifier must be the bundle’s', () => {
  const spec = (over: Record<string, unknown> = {}) => ({
    dsseV002: {
      payloadHash: { algorithm: 'SHA2_256', digest: b64(sha256(payload)) },
      signatures: [{ content: b64(sig), verifier }],
      ...over,
    },
  });
  const x = { content: dsse, signerDer: spki };
  checkEntryBody(entry('dsse', spec()), x);
  mismatch(
    () =>
      checkEntryBody(
        entry(
          'dsse',
          spec({ payloadHash: { algorithm: 'SHA2_256', digest: b64(sha256(Buffer.from('x'))) } }),
        ),
        x,
      ),
    /payload hash/,
  );
  mismatch(
    () =>
      checkEntryBody(entry('dsse', spec({ signatures: [{ content: b64(Buffer.alloc(70)), verifier }] })), x),
    /signature differs/,
  );
  const otherKey = { publicKey: { rawBytes: b64(spkiDer(generateP256().publicKey)) } };
  mismatch(
    () => checkEntryBody(entry('dsse', spec({ signatures: [{ content: b64(sig), verifier: otherKey }] })), x),
    /key\/certificate/,
  );
  mismatch(() => checkEntryBody(entry('dsse', spec({ signatures: [] })), x), /exactly one/);
});

test('hashedrekord 0.0.2 over DSSE: the digest is of PAE(type, payload)', () => {
  const spec = (digest: Buffer) => ({
    hashedRekordV002: {
      data: { algorithm: 'SHA2_256', digest: b64(digest) },
      signature: { content: b64(sig), verifier },
    },
  });
  const x = { content: dsse, signerDer: spki };
  checkEntryBody(entry('hashedrekord', spec(sha256(preAuthEncoding(payloadType, payload)))), x);
  mismatch(() => checkEntryBody(entry('hashedrekord', spec(sha256(payload))), x), /PAE/);
  // A message signature: the bundle's digest, algorithm included.
  const msg: BundleContent = { kind: 'messageSignature', signature: sig };
  const d = sha256(Buffer.from('artifact'));
  const mx = {
    content: msg,
    signerDer: spki,
    messageDigestHex: d.toString('hex'),
    messageDigestAlgorithm: 'SHA2_256',
  };
  checkEntryBody(entry('hashedrekord', spec(d)), mx);
  mismatch(
    () => checkEntryBody(entry('hashedrekord', spec(d)), { ...mx, messageDigestAlgorithm: 'SHA2_384' }),
    /digest differs/,
  );
});
