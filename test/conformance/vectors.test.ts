// The Sigstore conformance suite's bundle-verify vectors through sigil's conformance entrypoint,
// each case once with the artifact file and once with its sha256: digest, as the suite runs them.
// A `_fail` case must be rejected with the error code of the check it targets.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { conformanceMain } from '../../src/conformance/main.js';
import { requireSharedFile } from '../helpers/env.js';
import { BUNDLE_VERIFY_DIR, conformanceCases, verifyArgs, type ConformanceCase } from './cases.js';

/** The code each `_fail` case must be rejected with: the check the case targets. */
const EXPECTED: Record<string, string> = {
  'bundle-empty-certificate-chain_fail': 'INVALID_BUNDLE',
  'bundle-from-wrong-instance_fail': 'TLOG_FAILED',
  'bundle-invalid-base64-signature_fail': 'INVALID_BUNDLE',
  'bundle-malformed-json_fail': 'INVALID_JSON',
  'bundle-negative-log-index_fail': 'INVALID_BUNDLE',
  'bundle-unknown-version_fail': 'INVALID_BUNDLE',
  // Its inclusion proof has no checkpoint, which sigstore-go and sigstore-js refuse too; a root in
  // the chain is an untrusted extra for them (and sigil), so public full-chain bundles verify.
  'bundle-with-root-cert_fail': 'CHECKPOINT_INVALID',
  'checkpoint-bad-keyhint_fail': 'CHECKPOINT_INVALID',
  'checkpoint-wrong-roothash_fail': 'CHECKPOINT_INVALID',
  'dsse-invalid-sig_fail': 'SIGNATURE_MISMATCH',
  'dsse-mismatch-envelope_fail': 'TLOG_ENTRY_MISMATCH',
  'dsse-mismatch-sig_fail': 'TLOG_ENTRY_MISMATCH',
  'inclusion-proof-corrupted-hash_fail': 'INCLUSION_PROOF_FAILED',
  'incorrect-public-key_fail': 'TLOG_FAILED',
  'integrated-time-in-future_fail': 'CERTIFICATE_EXPIRED',
  'intoto-expired-certificate_fail': 'CERTIFICATE_EXPIRED',
  'intoto-log-entry-mismatch_fail': 'TLOG_ENTRY_MISMATCH',
  'intoto-missing-inclusion-proof_fail': 'INVALID_BUNDLE',
  'intoto-set-outside-signing-cert-validity_fail': 'CERTIFICATE_EXPIRED',
  'intoto-tsa-timestamp-outside-cert-validity_fail': 'CERTIFICATE_EXPIRED',
  'invalid-checkpoint-signature_fail': 'CHECKPOINT_INVALID',
  'invalid-ct-key_fail': 'SCT_FAILED',
  'invalid-inclusion-proof_fail': 'INCLUSION_PROOF_FAILED',
  'managed-key-no-key_fail': 'VERIFICATION_FAILED',
  'managed-key-wrong-key_fail': 'INVALID_KEY',
  'message-digest-mismatch_fail': 'DIGEST_MISMATCH',
  'rekor2-checkpoint-missing-log-signature_fail': 'CHECKPOINT_INVALID',
  'rekor2-checkpoint-missing-origin_fail': 'CHECKPOINT_INVALID',
  'rekor2-checkpoint-missing-root-hash_fail': 'CHECKPOINT_INVALID',
  'rekor2-checkpoint-missing-size_fail': 'CHECKPOINT_INVALID',
  'rekor2-checkpoint-no-matching-signature_fail': 'CHECKPOINT_INVALID',
  'rekor2-dsse-invalid-sig_fail': 'SIGNATURE_MISMATCH',
  'rekor2-dsse-mismatch-envelope_fail': 'TLOG_ENTRY_MISMATCH',
  'rekor2-dsse-mismatch-sig_fail': 'TLOG_ENTRY_MISMATCH',
  'rekor2-no-inclusion-proof_fail': 'INVALID_BUNDLE',
  'rekor2-no-timestamp_fail': 'THRESHOLD_NOT_MET',
  'rekor2-timestamp-outside-trust-root-tsa-validity_fail': 'TIMESTAMP_OUTSIDE_VALIDITY',
  'rekor2-timestamp-outside-tsa-cert-validity_fail': 'TIMESTAMP_OUTSIDE_VALIDITY',
  'rekor2-timestamp-payload-mismatch_fail': 'TIMESTAMP_INVALID',
  'rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail': 'TIMESTAMP_UNTRUSTED',
  'rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail': 'TIMESTAMP_UNTRUSTED',
  'rekor2-timestamp-with-incorrect-time_fail': 'CERTIFICATE_EXPIRED',
  'set-invalid-signature_fail': 'TLOG_FAILED',
  'signature-mismatch_fail': 'SIGNATURE_MISMATCH',
  'trust-root-tlog-missing-validity-start_fail': 'TRUST_ROOT_INVALID',
  'wrong-hashedrekord-artifact_fail': 'TLOG_ENTRY_MISMATCH',
  'wrong-hashedrekord-cert-and-sig_fail': 'TLOG_ENTRY_MISMATCH',
  'wrong-hashedrekord-entry_fail': 'TLOG_ENTRY_MISMATCH',
  'wrong-material_fail': 'DIGEST_MISMATCH',
};

const ENTRYPOINT = fileURLToPath(new URL('../../bin/sigil-conformance.js', import.meta.url));

async function run(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const code = await conformanceMain(args, { stdout: () => {}, stderr: (s) => (stderr += s) });
  return { code, stderr };
}

function codeOf(stderr: string): string | undefined {
  return /\(([A-Z_]+)\)\n?$/.exec(stderr.trim())?.[1];
}

function judge(c: ConformanceCase, digest: boolean, code: number, stderr: string): string | undefined {
  const how = digest ? 'digest' : 'file';
  if (!c.shouldFail) return code === 0 ? undefined : `${c.name} (${how}) was refused: ${stderr.trim()}`;
  if (code === 0) return `${c.name} (${how}) was accepted`;
  const got = codeOf(stderr);
  return got === EXPECTED[c.name]
    ? undefined
    : `${c.name} (${how}) refused with ${got}, not ${EXPECTED[c.name]}: ${stderr.trim()}`;
}

test('all 70 conformance cases, with the file and with its digest: 140/140 as expected, failures for their reason', async (t) => {
  if (!requireSharedFile(t, BUNDLE_VERIFY_DIR)) return;
  const cases = conformanceCases();
  assert.equal(cases.length, 70);
  assert.deepEqual(
    cases.filter((c) => c.shouldFail).map((c) => c.name),
    Object.keys(EXPECTED).sort(),
    'every _fail case has its expected code',
  );
  const wrong: string[] = [];
  let outcomes = 0;
  for (const c of cases) {
    for (const digest of [false, true]) {
      const { code, stderr } = await run(verifyArgs(c, digest));
      outcomes++;
      const w = judge(c, digest, code, stderr);
      if (w) wrong.push(w);
    }
  }
  assert.equal(outcomes, 140);
  assert.deepEqual(wrong, [], `${140 - wrong.length}/140 as expected`);
});

test('the executable entrypoint speaks the protocol: exit 0 on success, one error line and exit 1 on failure', (t) => {
  if (!requireSharedFile(t, BUNDLE_VERIFY_DIR)) return;
  const byName = new Map(conformanceCases().map((c) => [c.name, c]));
  for (const [name, digest] of [
    ['rekor2-happy-path', true],
    ['happy-path-v0.3', false],
    ['rekor2-timestamp-payload-mismatch_fail', false],
    ['checkpoint-wrong-roothash_fail', true],
  ] as const) {
    const c = byName.get(name)!;
    const r = spawnSync(process.execPath, [ENTRYPOINT, ...verifyArgs(c, digest)], { encoding: 'utf8' });
    assert.equal(judge(c, digest, r.status ?? -1, r.stderr), undefined);
    if (c.shouldFail) assert.match(r.stderr, /^sigil: error: [^\n]+\n$/);
  }
  const usage = spawnSync(process.execPath, [ENTRYPOINT, 'verify-bundle', '--bundle'], { encoding: 'utf8' });
  assert.equal(usage.status, 1);
  assert.match(usage.stderr, /^sigil: error: --bundle needs a value \(INVALID_INPUT\)\n$/);
});
