// A Rekor v1 entry without a SET has no trusted time: its integratedTime is unsigned, so the log
// key's window must hold at the TSA's verified times, never at a time the bundle chooses.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { sha256, spkiDer } from '../../src/crypto/index.js';
import { ecdsaKeyHint, formatCheckpoint, signNote } from '../../src/bundle/index.js';
import { isSigilError } from '../../src/errors/index.js';
import { leafHash } from '../../src/merkle/index.js';
import { createTrustMaterial, verifyBundle } from '../../src/verify/index.js';
import { requireSharedFile } from '../helpers/env.js';
import { BUNDLE_VERIFY_DIR } from '../conformance/cases.js';

const CASE = `${BUNDLE_VERIFY_DIR}rekor2-happy-path/`;

/** The case's signature, certificate and TSA timestamp (2025-06-12), logged as hashedrekord 0.0.1 by our own log, without a SET. */
function unsignedEntryBundle(keyEnd: string, integratedTime: string): { bundle: unknown; root: unknown } {
  const bundle = JSON.parse(readFileSync(`${CASE}bundle.sigstore.json`, 'utf8'));
  const root = JSON.parse(readFileSync(`${CASE}trusted_root.json`, 'utf8'));
  const log = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const logId = sha256(spkiDer(log.publicKey)).toString('base64');
  root.tlogs = [
    {
      baseUrl: 'https://log.example',
      hashAlgorithm: 'SHA2_256',
      publicKey: {
        rawBytes: spkiDer(log.publicKey).toString('base64'),
        keyDetails: 'PKIX_ECDSA_P256_SHA_256',
        validFor: { start: '2020-01-01T00:00:00Z', end: keyEnd },
      },
      logId: { keyId: logId },
    },
  ];
  const cert = bundle.verificationMaterial.certificate.rawBytes as string;
  const pem = `-----BEGIN CERTIFICATE-----\n${cert.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
  const ms = bundle.messageSignature;
  const body = Buffer.from(
    JSON.stringify({
      apiVersion: '0.0.1',
      kind: 'hashedrekord',
      spec: {
        data: {
          hash: {
            algorithm: 'sha256',
            value: Buffer.from(ms.messageDigest.digest, 'base64').toString('hex'),
          },
        },
        signature: { content: ms.signature, publicKey: { content: Buffer.from(pem).toString('base64') } },
      },
    }),
  );
  const rootHash = leafHash(body);
  const checkpoint = signNote(
    formatCheckpoint({ origin: 'log.example', size: 1, rootHash, extensions: [] }),
    'log.example',
    log.privateKey,
    ecdsaKeyHint(log.publicKey),
  );
  bundle.verificationMaterial.tlogEntries = [
    {
      logIndex: '0',
      logId: { keyId: logId },
      kindVersion: { kind: 'hashedrekord', version: '0.0.1' },
      integratedTime,
      canonicalizedBody: body.toString('base64'),
      inclusionProof: {
        logIndex: '0',
        treeSize: '1',
        rootHash: rootHash.toString('base64'),
        hashes: [],
        checkpoint: { envelope: checkpoint },
      },
    },
  ];
  return { bundle, root };
}

function verify(keyEnd: string, integratedTime: string) {
  const { bundle, root } = unsignedEntryBundle(keyEnd, integratedTime);
  return verifyBundle(
    createTrustMaterial(root),
    bundle,
    { skipIdentityUnsafe: true },
    { artifact: readFileSync(`${BUNDLE_VERIFY_DIR}a.txt`) },
  );
}

test('an entry without a SET: its log key must be valid at the TSA time, not at its unsigned integratedTime', (t) => {
  if (!requireSharedFile(t, `${CASE}bundle.sigstore.json`)) return;
  // Control: a log key valid at the TSA time verifies the entry, the TSA time is the verified time.
  const ok = verify('2030-01-01T00:00:00Z', '0');
  assert.equal(ok.tlogEntries[0]!.inclusionPromise, false);
  assert.deepEqual(
    ok.timestamps.map((s) => s.time),
    ['2025-06-12T12:02:20.000Z'],
  );
  // A log key retired in 2021 vouches for nothing timestamped in 2025, whatever integratedTime says.
  for (const integratedTime of ['0', String(Date.parse('2020-06-01T00:00:00Z') / 1000)]) {
    assert.throws(
      () => verify('2021-01-01T00:00:00Z', integratedTime),
      (e: unknown) =>
        isSigilError(e, 'TLOG_FAILED') && /not valid at the timestamp 2025-06-12/.test(e.message),
      `integratedTime ${integratedTime}`,
    );
  }
});
