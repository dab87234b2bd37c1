// A repeated timestamp or tlog entry is no second witness: sigil refuses the copy, as
// @sigstore/verify 4.x does (it counted once before, but accepted what the judge refused).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, test } from 'node:test';
import { isSigilError, type ErrorCode } from '../../src/errors/index.js';
import { createTrustMaterial, loadTimestampSupport, verifyBundle } from '../../src/verify/index.js';
import { requireNode24, runNode24Json } from '../helpers/node24.js';
import { requireSharedFile } from '../helpers/env.js';
import { conformanceCases } from './cases.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function duplicated(bundleText: string): [string, Json, ErrorCode][] {
  const b = JSON.parse(bundleText) as Json;
  const ts = structuredClone(b);
  const stamps = ts.verificationMaterial.timestampVerificationData.rfc3161Timestamps as Json[];
  stamps.push(stamps[0]!);
  const tl = structuredClone(b);
  const entries = tl.verificationMaterial.tlogEntries as Json[];
  entries.push(entries[0]!);
  return [
    ['timestamp', ts, 'TIMESTAMP_INVALID'],
    ['tlog entry', tl, 'TLOG_FAILED'],
  ];
}

// verifyBundle is synchronous: the RFC 3161 verifier (the ASN.1 stack) is loaded before it meets a timestamp.
before(() => loadTimestampSupport());

test('a duplicated timestamp or tlog entry is refused, by sigil and by @sigstore/verify 4.x', async (t) => {
  const c = conformanceCases().find((x) => x.name === 'rekor2-happy-path');
  if (!requireSharedFile(t, c?.bundle ?? 'rekor2-happy-path') || !c) return;
  const trust = createTrustMaterial(readFileSync(c.trustedRoot, 'utf8'));
  const policy = { identities: [{ subject: c.identity, issuer: c.issuer }] };
  const artifact = readFileSync(c.artifact);
  // Control: the case itself verifies.
  assert.equal(
    verifyBundle(trust, JSON.parse(readFileSync(c.bundle, 'utf8')), policy, { artifact }).verified,
    true,
  );
  const cases = duplicated(readFileSync(c.bundle, 'utf8'));
  for (const [what, bundle, code] of cases) {
    assert.throws(
      () => verifyBundle(trust, bundle, policy, { artifact }),
      (e: unknown) => isSigilError(e, code) && /duplicate/.test(e.message),
      what,
    );
  }
  if (!requireNode24(t)) return;
  const verdicts = await runNode24Json<{ id: string; ok: boolean; error?: string }[]>('verify15-judge.mjs', {
    cases: cases.map(([what, bundle]) => ({
      id: what,
      bundle: JSON.stringify(bundle),
      trustedRoot: readFileSync(c.trustedRoot, 'utf8'),
      artifact: artifact.toString('base64'),
      identity: c.identity,
      issuer: c.issuer,
      key: null,
    })),
  });
  assert.deepEqual(
    verdicts.map((v) => [v.id, v.ok, /duplicate/.test(v.error ?? '')]),
    [
      ['timestamp', false, true],
      ['tlog entry', false, true],
    ],
  );
});
