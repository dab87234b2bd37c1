// The current sigstore-js (@sigstore/verify 4.x under Node 24) as judge: it must reach sigil's
// verdict on every conformance vector, and on one-byte tamperings of the RFC 3161 timestamps and
// checkpoints of the Rekor v2 and timestamped happy paths.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { conformanceMain } from '../../src/conformance/main.js';
import { requireNode24, runNode24Json } from '../helpers/node24.js';
import { requireSharedFile } from '../helpers/env.js';
import { BUNDLE_VERIFY_DIR, conformanceCases, verifyArgs, type ConformanceCase } from './cases.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface JudgeCase {
  id: string;
  bundle: string;
  trustedRoot: string;
  artifact: string;
  identity: string;
  issuer: string;
  key: string | null;
}

/**
 * Where @sigstore/verify 4.1.3 and the conformance suite part ways, sigil follows the suite: a
 * trusted root whose log key has no validFor.start is malformed (sigstore-js reads it as unbounded).
 */
const JUDGE_KNOWN_WRONG = new Set(['trust-root-tlog-missing-validity-start_fail']);

function judgeCase(c: ConformanceCase, id: string, bundle = readFileSync(c.bundle, 'utf8')): JudgeCase {
  return {
    id,
    bundle,
    trustedRoot: readFileSync(c.trustedRoot, 'utf8'),
    artifact: readFileSync(c.artifact).toString('base64'),
    identity: c.identity,
    issuer: c.issuer,
    key: c.key ? readFileSync(c.key, 'utf8') : null,
  };
}

async function sigil(
  c: ConformanceCase,
  bundleFile = c.bundle,
): Promise<{ accepted: boolean; error: string }> {
  let error = '';
  const args = verifyArgs({ ...c, bundle: bundleFile }, false);
  const code = await conformanceMain(args, { stdout: () => {}, stderr: (s) => (error += s) });
  return { accepted: code === 0, error: error.trim() };
}

async function judge(cases: JudgeCase[]): Promise<Map<string, { ok: boolean; error?: string }>> {
  const out = await runNode24Json<{ id: string; ok: boolean; error?: string }[]>(
    'verify15-judge.mjs',
    { cases },
    300_000,
  );
  return new Map(out.map((r) => [r.id, r]));
}

test('@sigstore/verify 4.x reaches sigil verdict on every conformance vector', async (t) => {
  if (!requireSharedFile(t, BUNDLE_VERIFY_DIR) || !requireNode24(t)) return;
  const cases = conformanceCases();
  const theirs = await judge(cases.map((c) => judgeCase(c, c.name)));
  const disagree: string[] = [];
  for (const c of cases) {
    const ours = (await sigil(c)).accepted;
    assert.equal(ours, !c.shouldFail, `sigil on ${c.name}`);
    if (theirs.get(c.name)!.ok !== ours) disagree.push(c.name);
  }
  assert.deepEqual(disagree, [...JUDGE_KNOWN_WRONG]);
});

function flipByte(b64: string, at: number): string {
  const b = Buffer.from(b64.replace(/\s/g, ''), 'base64');
  b[at]! ^= 0x01;
  return b.toString('base64');
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Every `step`-th byte of each timestamp and every ASCII character of each checkpoint, flipped once. */
function tamperings(bundleText: string, step: number): [string, string][] {
  const out: [string, string][] = [];
  const original = JSON.parse(bundleText) as Json;
  const stamps = (original.verificationMaterial.timestampVerificationData?.rfc3161Timestamps ?? []) as Json[];
  stamps.forEach((s, i) => {
    const len = Buffer.from(String(s.signedTimestamp).replace(/\s/g, ''), 'base64').length;
    for (let at = 0; at < len; at += step) {
      const b = structuredClone(original);
      b.verificationMaterial.timestampVerificationData.rfc3161Timestamps[i].signedTimestamp = flipByte(
        s.signedTimestamp,
        at,
      );
      out.push([`timestamp ${i} byte ${at}`, JSON.stringify(b)]);
    }
  });
  (original.verificationMaterial.tlogEntries as Json[]).forEach((e, i) => {
    const env: string | undefined = e.inclusionProof?.checkpoint?.envelope;
    if (!env) return;
    for (let at = 0; at < env.length; at += Math.max(1, Math.floor(step / 4))) {
      const ch = env.charCodeAt(at);
      if (ch > 0x7e || ch < 0x21) continue;
      const b = structuredClone(original);
      b.verificationMaterial.tlogEntries[i].inclusionProof.checkpoint.envelope =
        env.slice(0, at) + String.fromCharCode(ch ^ 0x01) + env.slice(at + 1);
      out.push([`checkpoint ${i} char ${at}`, JSON.stringify(b)]);
    }
  });
  return out;
}

test('one-byte tamperings of timestamps and checkpoints: sigil never accepts what @sigstore/verify 4.x refuses, and refuses more only where it is stricter by design', async (t) => {
  if (!requireSharedFile(t, BUNDLE_VERIFY_DIR) || !requireNode24(t)) return;
  const names = [
    'rekor2-happy-path',
    'rekor2-timestamp-without-embedded-cert',
    'rekor2-dsse-happy-path',
    'rekor2-checkpoint-cosigned',
    'happy-path-v0.3',
  ];
  const dir = mkdtempSync(join(tmpdir(), 'sigil-tamper-'));
  const byName = new Map(conformanceCases().map((c) => [c.name, c]));
  const judged: JudgeCase[] = [];
  const ours = new Map<string, { accepted: boolean; error: string }>();
  for (const name of names) {
    const c = byName.get(name)!;
    for (const [what, text] of tamperings(readFileSync(c.bundle, 'utf8'), 37)) {
      const id = `${name}: ${what}`;
      const file = join(dir, `${judged.length}.json`);
      writeFileSync(file, text);
      ours.set(id, await sigil(c, file));
      judged.push(judgeCase(c, id, text));
    }
  }
  assert.ok(judged.length >= 150, `only ${judged.length} tamperings`);
  const theirs = await judge(judged);
  const lenient: string[] = [];
  const stricter: string[] = [];
  for (const [id, v] of ours) {
    const js = theirs.get(id)!;
    if (v.accepted && !js.ok) lenient.push(`${id}: sigil accepts, @sigstore/verify ${js.error}`);
    if (!v.accepted && js.ok) stricter.push(`${id}: ${v.error}`);
  }
  assert.deepEqual(lenient, [], 'sigil accepted what @sigstore/verify refused');
  // Where sigil refuses what sigstore-js 4 lets through, as sigstore-go does: BER or other
  // non-DER in the token, an embedded certificate that does not parse or is not the TSA's own
  // (sigstore-js ignores embedded certificates), a checkpoint signature line that is not
  // `— name base64` (C2SP signed-note).
  const STRICTER =
    /(is not valid DER|is not DER-encoded|an embedded certificate does not parse|the embedded signing certificate is not the one of TSA|malformed signature line in signed note)/;
  assert.deepEqual(
    stricter.filter((m) => !STRICTER.test(m)),
    [],
    'sigil refused for another reason than its documented strictness',
  );
  // Whatever a one-byte change leaves valid for both (the response status, an unknown key's line)
  // is outside what is signed; everything else was refused by both.
  const bothAccept = [...ours].filter(([id, v]) => v.accepted && theirs.get(id)!.ok).map(([id]) => id);
  assert.ok(
    bothAccept.length < judged.length / 4,
    `${bothAccept.length} tamperings accepted: ${bothAccept.join(', ')}`,
  );
});
