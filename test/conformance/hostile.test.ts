// Hostile timestamps and checkpoints: each refused with its code, by a bounded check (size and
// count limits, never a parse of unbounded input).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { isSigilError, type ErrorCode } from '../../src/errors/index.js';
import { MAX_TIMESTAMP_BYTES, verifyTimestamp } from '../../src/timestamp/index.js';
import { createTrustMaterial, verifyBundle, verifyCheckpoint } from '../../src/verify/index.js';
import { requireSharedFile } from '../helpers/env.js';
import { BUNDLE_VERIFY_DIR, conformanceCases } from './cases.js';
import { ownLog } from '../verify/own-log.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function refuses(fn: () => unknown, code: ErrorCode, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isSigilError(e), `not a SigilError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  });
}

function load(name: string): { bundle: Json; root: Json; artifact: Buffer; policy: Json } {
  const c = conformanceCases().find((x) => x.name === name)!;
  return {
    bundle: JSON.parse(readFileSync(c.bundle, 'utf8')),
    root: JSON.parse(readFileSync(c.trustedRoot, 'utf8')),
    artifact: readFileSync(c.artifact),
    policy: { identities: [{ subject: c.identity, issuer: c.issuer }] },
  };
}

const tokenOf = (b: Json): Buffer =>
  Buffer.from(
    b.verificationMaterial.timestampVerificationData.rfc3161Timestamps[0].signedTimestamp.replace(/\s/g, ''),
    'base64',
  );
const signatureOf = (b: Json): Buffer => Buffer.from(b.messageSignature.signature, 'base64');

test('truncated, oversized and misdirected timestamp tokens, and a TSA chain to an untrusted root', (t) => {
  if (!requireSharedFile(t, BUNDLE_VERIFY_DIR)) return;
  const { bundle, root, artifact, policy } = load('rekor2-happy-path');
  const trust = createTrustMaterial(root);
  const token = tokenOf(bundle);
  const sig = signatureOf(bundle);
  assert.equal(verifyTimestamp(token, sig, trust.timestampAuthorities).uri, root.timestampAuthorities[0].uri);
  for (const len of [0, 1, 2, 10, 100, token.length / 2, token.length - 1]) {
    refuses(
      () => verifyTimestamp(token.subarray(0, len), sig, trust.timestampAuthorities),
      'TIMESTAMP_INVALID',
      /timestamp/,
    );
  }
  const huge = Buffer.concat([token, Buffer.alloc(MAX_TIMESTAMP_BYTES)]);
  refuses(() => verifyTimestamp(huge, sig, trust.timestampAuthorities), 'TIMESTAMP_INVALID', /larger than/);
  // In a bundle, an oversized token is refused by the parser's field bound.
  const big = structuredClone(bundle);
  big.verificationMaterial.timestampVerificationData.rfc3161Timestamps[0].signedTimestamp =
    huge.toString('base64');
  refuses(() => verifyBundle(trust, big, policy, { artifact }), 'INVALID_BUNDLE', /signedTimestamp/);
  // A genuine token whose imprint covers other bytes than this bundle's signature.
  refuses(
    () => verifyTimestamp(token, Buffer.from('other bytes'), trust.timestampAuthorities),
    'TIMESTAMP_INVALID',
    /imprint/,
  );
  // The TSA's certificates replaced by another CA's chain: nothing trusted signed the token.
  const other = structuredClone(root);
  other.timestampAuthorities[0].certChain = other.certificateAuthorities.at(-1).certChain;
  refuses(
    () => verifyBundle(createTrustMaterial(other), bundle, policy, { artifact }),
    'TIMESTAMP_UNTRUSTED',
    /TSA/,
  );
  // …and a trusted root that lists no TSA at all.
  refuses(
    () =>
      verifyBundle(createTrustMaterial({ ...root, timestampAuthorities: [] }), bundle, policy, { artifact }),
    'TIMESTAMP_UNTRUSTED',
    /no timestamp authorities/,
  );
});

test('a checkpoint with 1,000 signature lines and a note with a wrong origin are refused', (t) => {
  if (!requireSharedFile(t, BUNDLE_VERIFY_DIR)) return;
  const { bundle, root, artifact, policy } = load('rekor2-happy-path');
  const trust = createTrustMaterial(root);
  const proof = bundle.verificationMaterial.tlogEntries[0].inclusionProof;
  const env: string = proof.checkpoint.envelope;
  const split = env.indexOf('\n\n') + 2;
  const junk = Array.from({ length: 1000 }, (_, i) => `— w${i} AAAAAAAA\n`).join('');
  const crowded = structuredClone(bundle);
  crowded.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.envelope =
    env.slice(0, split) + junk + env.slice(split);
  refuses(
    () => verifyBundle(trust, crowded, policy, { artifact }),
    'CHECKPOINT_INVALID',
    /too many note signatures/,
  );

  // A log key of our own: the note is correctly signed, but for another origin.
  const { trust: ownRoot, keys, checkpoint: note } = ownLog();
  assert.equal(verifyCheckpoint(note('log.example'), keys, ownRoot).size, 1);
  assert.equal(verifyCheckpoint(note('log.example - 42'), keys, ownRoot).size, 1);
  for (const origin of ['other.example', 'log.example.evil', 'log.example - x', 'evil/log.example']) {
    refuses(() => verifyCheckpoint(note(origin), keys, ownRoot), 'CHECKPOINT_INVALID', /origin/);
  }
});
