// sigil verify-blob with the flags cosign has for signed timestamps and Rekor v2 bundles, on the
// conformance vectors: a sha256: digest for the file, --use-signed-timestamps,
// --timestamp-certificate-chain and --insecure-ignore-tlog.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { toPem } from '../../src/crypto/index.js';
import { requireSharedFile } from '../helpers/env.js';
import { runSigilInProcess } from '../e2e/stack.js';
import {
  BUNDLE_VERIFY_DIR,
  conformanceCases,
  verifyBlobArgs as args,
  type ConformanceCase,
} from './cases.js';

const digestOf = (c: ConformanceCase): string =>
  `sha256:${createHash('sha256').update(readFileSync(c.artifact)).digest('hex')}`;

test('verify-blob: digest input, --use-signed-timestamps, --timestamp-certificate-chain, --insecure-ignore-tlog', async (t) => {
  if (!requireSharedFile(t, BUNDLE_VERIFY_DIR)) return;
  const byName = new Map(conformanceCases().map((c) => [c.name, c]));
  const v2 = byName.get('rekor2-happy-path')!;
  const v1 = byName.get('happy-path-v0.3')!;

  const byDigest = await runSigilInProcess(args(v2, digestOf(v2), ['--use-signed-timestamps']));
  assert.equal(byDigest.code, 0, byDigest.stderr);
  const result = JSON.parse(byDigest.stdout);
  assert.deepEqual(result.checks, ['timestamp', 'tlog', 'certificate-chain', 'sct', 'signature', 'identity']);
  assert.equal(result.timestamps.length, 1);
  assert.equal(result.tlogEntries[0].rekorV2, true);

  const noStamp = await runSigilInProcess(args(v1, v1.artifact, ['--use-signed-timestamps']));
  assert.equal(noStamp.code, 1);
  assert.match(
    noStamp.stderr,
    /^sigil: error: timestamps: expected verified timestamps .* \(THRESHOLD_NOT_MET\)\n$/,
  );

  const wrongDigest = await runSigilInProcess(args(v2, `sha256:${'0'.repeat(64)}`));
  assert.match(wrongDigest.stderr, /\(DIGEST_MISMATCH\)/);

  // The TSA's chain given on the command line instead of the trusted root's.
  const dir = mkdtempSync(join(tmpdir(), 'sigil-tsa-chain-'));
  const root = JSON.parse(readFileSync(v2.trustedRoot, 'utf8'));
  const pem = (certs: { rawBytes: string }[]): string =>
    certs.map((c) => toPem('CERTIFICATE', Buffer.from(c.rawBytes, 'base64'))).join('');
  const tsaChain = join(dir, 'tsa.pem');
  writeFileSync(tsaChain, pem(root.timestampAuthorities[0].certChain.certificates));
  const withChain = await runSigilInProcess(
    args(v2, v2.artifact, ['--timestamp-certificate-chain', tsaChain]),
  );
  assert.equal(withChain.code, 0, withChain.stderr);
  const caChain = join(dir, 'ca.pem');
  writeFileSync(caChain, pem(root.certificateAuthorities.at(-1).certChain.certificates));
  const wrongChain = await runSigilInProcess(
    args(v2, v2.artifact, ['--timestamp-certificate-chain', caChain]),
  );
  assert.match(wrongChain.stderr, /\(TIMESTAMP_UNTRUSTED\)\n$/);

  // A bundle whose checkpoint is signed by another name verifies only when the log is ignored.
  const badLog = byName.get('rekor2-checkpoint-no-matching-signature_fail')!;
  assert.match((await runSigilInProcess(args(badLog, badLog.artifact))).stderr, /\(CHECKPOINT_INVALID\)/);
  const ignored = await runSigilInProcess(args(badLog, badLog.artifact, ['--insecure-ignore-tlog']));
  assert.equal(ignored.code, 0, ignored.stderr);
  assert.deepEqual(JSON.parse(ignored.stdout).unsafe, ['tlogThreshold=0']);
});
