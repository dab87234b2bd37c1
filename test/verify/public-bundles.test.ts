import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { bundleFromJSON } from '@sigstore/bundle';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
import { PUBLIC_SIGSTORE_DIR, requireSharedFile } from '../helpers/env.js';
import { isSigilError } from '../../src/errors/index.js';
import {
  createTrustMaterial,
  verifyBundle,
  VERIFICATION_MEDIA_TYPE,
  type VerificationPolicy,
} from '../../src/verify/index.js';

const DIR = PUBLIC_SIGSTORE_DIR;
const ID = 'brian@dehamer.com';
const ISSUER = 'https://github.com/login/oauth';
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Verdict {
  ok: boolean;
  code?: string;
  message?: string;
}

function setup() {
  const rootJson = JSON.parse(readFileSync(DIR + 'trusted_root.json', 'utf8'));
  const sigil = createTrustMaterial(rootJson);
  const official = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(rootJson)), {
    tlogThreshold: 1,
    ctlogThreshold: 1,
  });
  const bundles = readdirSync(DIR)
    .filter((f) => f.endsWith('.sigstore'))
    .map((f) => [f, JSON.parse(readFileSync(DIR + f, 'utf8')) as Json] as const);
  const ours = (b: Json, san = ID, issuer = ISSUER): Verdict => {
    const policy: VerificationPolicy = { identities: [{ subject: san, issuer }] };
    try {
      verifyBundle(sigil, b, policy, { tlogThreshold: 1, ctlogThreshold: 1 });
      return { ok: true };
    } catch (e) {
      if (!isSigilError(e)) throw e;
      return { ok: false, code: e.code, message: e.message };
    }
  };
  const theirs = (b: Json, san = ID, issuer = ISSUER): Verdict => {
    try {
      // @sigstore/verify treats a string SAN as an unanchored regexp; anchor it to compare exact matching.
      const exact = new RegExp(`^${san.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
      official.verify(toSignedEntity(bundleFromJSON(b)), {
        subjectAlternativeName: exact as unknown as string,
        extensions: { issuer },
      });
      return { ok: true };
    } catch (e) {
      return { ok: false, message: (e as Error).message };
    }
  };
  return { bundles, ours, theirs };
}

test('all nine public bundles verify, as with @sigstore/verify', (t) => {
  if (!requireSharedFile(t, DIR + 'trusted_root.json')) return;
  const { bundles, ours, theirs } = setup();
  assert.equal(bundles.length, 9);
  const rootJson = JSON.parse(readFileSync(DIR + 'trusted_root.json', 'utf8'));
  for (const [name, b] of bundles) {
    assert.deepEqual(theirs(b), { ok: true }, `@sigstore/verify on ${name}`);
    assert.deepEqual(ours(b), { ok: true }, `sigil on ${name}`);
    const r = verifyBundle(createTrustMaterial(rootJson), b, {
      identities: [{ subjectRegExp: '^brian@dehamer\\.com$', issuer: ISSUER }],
    });
    assert.equal(r.mediaType, VERIFICATION_MEDIA_TYPE);
    assert.deepEqual(r.checks, ['tlog', 'certificate-chain', 'sct', 'signature', 'identity']);
    assert.deepEqual(r.identity?.subjectAlternativeNames, [ID]);
    assert.equal(r.identity?.issuer, ISSUER);
    assert.ok(r.integratedTime?.startsWith('2023-07-12T15:'), r.integratedTime);
    assert.ok(r.logIndex === 27246114 || r.logIndex === 27244980);
    assert.equal(r.ctlogs.length, 1);
    assert.deepEqual(JSON.parse(JSON.stringify(r)), r, 'the result is plain JSON');
  }
});

test('another identity or issuer is refused (IDENTITY_MISMATCH), as by @sigstore/verify', (t) => {
  if (!requireSharedFile(t, DIR + 'trusted_root.json')) return;
  const { bundles, ours, theirs } = setup();
  for (const [name, b] of bundles) {
    for (const [san, issuer] of [
      ['brian@dehamer.co', ISSUER],
      ['mallory@example.com', ISSUER],
      [ID, 'https://accounts.google.com'],
      [ID, 'https://github.com/login/oauth/'],
    ] as const) {
      const v = ours(b, san, issuer);
      assert.equal(v.ok, false, `${name} with ${san}/${issuer}`);
      assert.equal(v.code, 'IDENTITY_MISMATCH');
      assert.match(v.message!, /identity/);
      assert.equal(theirs(b, san, issuer).ok, false);
    }
  }
  // Where sigil is deliberately stricter: an exact subject is exact, not an unanchored pattern.
  const [, b] = bundles[0]!;
  assert.equal(ours(b, 'brian@dehamer.co').ok, false);
  assert.equal(ours(b, 'rian@dehamer.com').ok, false);
});

function flipBase64(s: string, at: number): string {
  const b = Buffer.from(s, 'base64');
  b[Math.floor(b.length * at)]! ^= 0x01;
  return b.toString('base64');
}

/** The places a byte can change, each with the code sigil must answer. */
const TAMPERS: [string, (b: Json) => boolean, string | RegExp][] = [
  [
    'envelope payload',
    (b) => ((b.dsseEnvelope.payload = flipBase64(b.dsseEnvelope.payload, 0.5)), true),
    /SIGNATURE_MISMATCH|TLOG_FAILED/,
  ],
  [
    'envelope signature',
    (b) => ((b.dsseEnvelope.signatures[0].sig = flipBase64(b.dsseEnvelope.signatures[0].sig, 0.6)), true),
    'SIGNATURE_MISMATCH',
  ],
  [
    'certificate',
    (b) => {
      const vm = b.verificationMaterial;
      const holder = vm.certificate ?? vm.x509CertificateChain.certificates[0];
      holder.rawBytes = flipBase64(holder.rawBytes, 0.97);
      return true;
    },
    /TLOG_FAILED|TLOG_ENTRY_MISMATCH|SIGNATURE_MISMATCH|CERTIFICATE_CHAIN_FAILED|INVALID_CERTIFICATE/,
  ],
  [
    'log entry body',
    (b) => {
      const e = b.verificationMaterial.tlogEntries[0];
      e.canonicalizedBody = flipBase64(e.canonicalizedBody, 0.3);
      return true;
    },
    /TLOG_FAILED|INCLUSION_PROOF_FAILED/,
  ],
  [
    'signed entry timestamp',
    (b) => {
      const p = b.verificationMaterial.tlogEntries[0].inclusionPromise;
      if (!p) return false;
      p.signedEntryTimestamp = flipBase64(p.signedEntryTimestamp, 0.5);
      return true;
    },
    'TLOG_FAILED',
  ],
  [
    'checkpoint (body)',
    (b) => {
      const p = b.verificationMaterial.tlogEntries[0].inclusionProof;
      if (!p) return false;
      // change one character of the tree-size line
      const env: string = p.checkpoint.envelope;
      const i = env.indexOf('\n') + 2;
      p.checkpoint.envelope = env.slice(0, i) + (env[i] === '1' ? '2' : '1') + env.slice(i + 1);
      return true;
    },
    'CHECKPOINT_INVALID',
  ],
  [
    'checkpoint (signature)',
    (b) => {
      const p = b.verificationMaterial.tlogEntries[0].inclusionProof;
      if (!p) return false;
      const env: string = p.checkpoint.envelope;
      const line = env.lastIndexOf(' ') + 1;
      const sig = env.slice(line, -1);
      p.checkpoint.envelope = env.slice(0, line) + flipBase64(sig, 0.7) + '\n';
      return true;
    },
    'CHECKPOINT_INVALID',
  ],
];

test('one byte changed in envelope, certificate, body, SET or checkpoint is refused, as by @sigstore/verify', (t) => {
  if (!requireSharedFile(t, DIR + 'trusted_root.json')) return;
  const { bundles, ours, theirs } = setup();
  let cases = 0;
  for (const [name, original] of bundles) {
    for (const [what, tamper, code] of TAMPERS) {
      const b = structuredClone(original);
      if (!tamper(b)) continue;
      cases++;
      const v = ours(b);
      assert.equal(v.ok, false, `sigil accepted ${name} with a changed ${what}`);
      if (typeof code === 'string') assert.equal(v.code, code, `${name}/${what}: ${v.message}`);
      else assert.match(v.code!, code, `${name}/${what}: ${v.message}`);
      assert.equal(theirs(b).ok, false, `@sigstore/verify accepted ${name} with a changed ${what}`);
    }
  }
  assert.ok(cases >= 9 * 5, `only ${cases} cases`);
});

test('each failed check is reported with a message naming it', (t) => {
  if (!requireSharedFile(t, DIR + 'trusted_root.json')) return;
  const { bundles, ours } = setup();
  const b = structuredClone(bundles.find(([n]) => n === 'bundleV03-dsse.sigstore')![1]);
  b.verificationMaterial.tlogEntries[0].inclusionPromise.signedEntryTimestamp = flipBase64(
    b.verificationMaterial.tlogEntries[0].inclusionPromise.signedEntryTimestamp,
    0.5,
  );
  assert.match(ours(b).message!, /^tlog entry 0: the signed entry timestamp \(SET\)/);
  const c = structuredClone(bundles.find(([n]) => n === 'bundleV03-dsse.sigstore')![1]);
  c.dsseEnvelope.payload = flipBase64(c.dsseEnvelope.payload, 0.5);
  assert.match(ours(c).message!, /^signature: the DSSE envelope signature does not verify/);
});
