// A Rekor v2 entry from sigil's v2 log, altered field by field: each alteration must fail verification.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { isSigilError } from '../../src/errors/index.js';
import {
  ecdsaKeyHint,
  FieldReader,
  formatCheckpoint,
  parseTlogEntry,
  signNote,
  type TransparencyLogEntry,
} from '../../src/bundle/index.js';
import { createTrustMaterial, verifyTlogEntry, type TrustMaterial } from '../../src/verify/index.js';
import { hashedRekordRequest, post, startV2 } from '../rekor-v2/helpers.js';

async function loggedEntry(t: Parameters<typeof startV2>[0]): Promise<{
  entry: () => TransparencyLogEntry;
  trust: TrustMaterial;
  origin: string;
}> {
  const s = await startV2(t);
  const res = await post(s.url, hashedRekordRequest().body);
  assert.equal(res.status, 201);
  const json = (await res.json()) as unknown;
  const trust = createTrustMaterial({
    mediaType: 'application/vnd.dev.sigstore.trustedroot.v0.2+json',
    tlogs: [
      {
        baseUrl: s.url,
        hashAlgorithm: 'SHA2_256',
        publicKey: {
          rawBytes: s.publicKeyDer.toString('base64'),
          keyDetails: 'PKIX_ECDSA_P256_SHA_256',
          validFor: { start: '2020-01-01T00:00:00Z' },
        },
        logId: { keyId: s.logId.toString('base64') },
      },
    ],
    certificateAuthorities: [],
    ctlogs: [],
    timestampAuthorities: [],
  });
  return {
    entry: () => parseTlogEntry(new FieldReader('INVALID_BUNDLE', 'tlogEntry'), json),
    trust,
    origin: s.origin,
  };
}

test('a v2 entry with a faked non-zero integratedTime and no SET fails verification', async (t) => {
  const { entry, trust } = await loggedEntry(t);
  assert.equal(verifyTlogEntry(0, entry(), trust).result.rekorV2, true);
  const e = entry();
  e.integratedTime = 1_700_000_000;
  assert.throws(
    () => verifyTlogEntry(0, e, trust),
    (err: unknown) => isSigilError(err, 'TLOG_FAILED') && /integratedTime 0/.test(err.message),
  );
});

test('a v2 inclusion proof against a checkpoint of another key or origin fails', async (t) => {
  const { entry, trust, origin } = await loggedEntry(t);
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const e = entry();
  const p = e.inclusionProof!;
  const note = (o: string, key = other): string =>
    signNote(
      formatCheckpoint({ origin: o, size: p.treeSize, rootHash: p.rootHash, extensions: [] }),
      o,
      key.privateKey,
      ecdsaKeyHint(key.publicKey),
    );
  p.checkpoint = note(origin);
  assert.throws(
    () => verifyTlogEntry(0, e, trust),
    (err: unknown) => isSigilError(err, 'CHECKPOINT_INVALID'),
  );
  const e2 = entry();
  e2.inclusionProof!.checkpoint = e2.inclusionProof!.checkpoint!.replace(/\n\n/, '\nextra line\n\n');
  assert.throws(
    () => verifyTlogEntry(0, e2, trust),
    (err: unknown) => isSigilError(err, 'CHECKPOINT_INVALID'),
  );
});

test('a v2 entry whose logIndex is not its inclusion proof index fails (it would be reported unproven)', async (t) => {
  const { entry, trust } = await loggedEntry(t);
  const e = entry();
  e.logIndex = 5;
  assert.throws(
    () => verifyTlogEntry(0, e, trust),
    (err: unknown) => isSigilError(err, 'TLOG_FAILED') && /proven index 0/.test(err.message),
  );
});
