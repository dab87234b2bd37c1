// Log entries of our own log and the times they vouch for: a Rekor v1 entry without a SET has no
// trusted time (its integratedTime is unsigned, so the log key's window must hold at the TSA's
// verified times), and every SET-backed time must fall in the certificate's validity.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { before, test } from 'node:test';
import { canonicalJson, sha256, signData, spkiDer } from '../../src/crypto/index.js';
import { ecdsaKeyHint, formatCheckpoint, signNote } from '../../src/bundle/index.js';
import { isSigilError } from '../../src/errors/index.js';
import { leafHash } from '../../src/merkle/index.js';
import { createTrustMaterial, loadTimestampSupport, verifyBundle } from '../../src/verify/index.js';
import { requireSharedFile } from '../helpers/env.js';
import { BUNDLE_VERIFY_DIR } from '../conformance/cases.js';

const CASE = `${BUNDLE_VERIFY_DIR}rekor2-happy-path/`;

interface EntrySpec {
  integratedTime: string;
  /** Sign a SET over the entry with the log key. */
  set?: boolean;
  /** Line width of the logged PEM certificate (another width is another body for the same signer). */
  pemWidth?: number;
}

/**
 * The case's signature, certificate (valid 2025-06-12T12:02:16Z–12:12:16Z) and TSA timestamp
 * (12:02:20Z), logged as hashedrekord 0.0.1 entries by our own log, each in its own one-leaf tree.
 */
function ownLogBundle(keyEnd: string, specs: EntrySpec[]): { bundle: unknown; root: unknown } {
  const bundle = JSON.parse(readFileSync(`${CASE}bundle.sigstore.json`, 'utf8'));
  const root = JSON.parse(readFileSync(`${CASE}trusted_root.json`, 'utf8'));
  const log = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const logIdBytes = sha256(spkiDer(log.publicKey));
  const logId = logIdBytes.toString('base64');
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
  const ms = bundle.messageSignature;
  bundle.verificationMaterial.tlogEntries = specs.map((spec) => {
    const width = spec.pemWidth ?? 64;
    const lines = cert.match(new RegExp(`.{1,${width}}`, 'g'))!.join('\n');
    const pem = `-----BEGIN CERTIFICATE-----\n${lines}\n-----END CERTIFICATE-----\n`;
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
    const set = spec.set
      ? {
          inclusionPromise: {
            signedEntryTimestamp: signData(
              log.privateKey,
              canonicalJson({
                body: body.toString('base64'),
                integratedTime: Number(spec.integratedTime),
                logID: logIdBytes.toString('hex'),
                logIndex: 0,
              }),
            ).toString('base64'),
          },
        }
      : {};
    return {
      logIndex: '0',
      logId: { keyId: logId },
      kindVersion: { kind: 'hashedrekord', version: '0.0.1' },
      integratedTime: spec.integratedTime,
      ...set,
      canonicalizedBody: body.toString('base64'),
      inclusionProof: {
        logIndex: '0',
        treeSize: '1',
        rootHash: rootHash.toString('base64'),
        hashes: [],
        checkpoint: { envelope: checkpoint },
      },
    };
  });
  return { bundle, root };
}

function verify(keyEnd: string, specs: EntrySpec[]) {
  const { bundle, root } = ownLogBundle(keyEnd, specs);
  return verifyBundle(
    createTrustMaterial(root),
    bundle,
    { skipIdentityUnsafe: true },
    { artifact: readFileSync(`${BUNDLE_VERIFY_DIR}a.txt`) },
  );
}

// verifyBundle is synchronous: the RFC 3161 verifier (the ASN.1 stack) is loaded before it meets a timestamp.
before(() => loadTimestampSupport());

test('an entry without a SET: its log key must be valid at the TSA time, not at its unsigned integratedTime', (t) => {
  if (!requireSharedFile(t, `${CASE}bundle.sigstore.json`)) return;
  // Control: a log key valid at the TSA time verifies the entry, the TSA time is the verified time.
  const ok = verify('2030-01-01T00:00:00Z', [{ integratedTime: '0' }]);
  assert.equal(ok.tlogEntries[0]!.inclusionPromise, false);
  assert.deepEqual(
    ok.timestamps.map((s) => s.time),
    ['2025-06-12T12:02:20.000Z'],
  );
  // A log key retired in 2021 vouches for nothing timestamped in 2025, whatever integratedTime says.
  for (const integratedTime of ['0', String(Date.parse('2020-06-01T00:00:00Z') / 1000)]) {
    assert.throws(
      () => verify('2021-01-01T00:00:00Z', [{ integratedTime }]),
      (e: unknown) =>
        isSigilError(e, 'TLOG_FAILED') && /not valid at the timestamp 2025-06-12/.test(e.message),
      `integratedTime ${integratedTime}`,
    );
  }
});

const unix = (iso: string): string => String(Date.parse(iso) / 1000);

test('every SET-backed time must fall in the certificate validity, not only the first of each log', (t) => {
  if (!requireSharedFile(t, `${CASE}bundle.sigstore.json`)) return;
  const inside = { integratedTime: unix('2025-06-12T12:03:00Z'), set: true };
  // Control: one entry with a SET inside the validity.
  assert.equal(verify('2030-01-01T00:00:00Z', [inside]).integratedTimeUnix, Number(inside.integratedTime));
  // The same signature logged again a month later (another PEM layout, so another body).
  const later = { integratedTime: unix('2025-07-12T00:00:00Z'), set: true, pemWidth: 76 };
  assert.throws(
    () => verify('2030-01-01T00:00:00Z', [inside, later]),
    (e: unknown) => isSigilError(e, 'CERTIFICATE_EXPIRED'),
  );
});
