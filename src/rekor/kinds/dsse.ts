import { verify as nodeVerify } from 'node:crypto';
import { SigilError } from '../../errors/index.js';
import { canonicalJson, fromBase64, preAuthEncoding, sha256Hex } from '../../crypto/index.js';
import { parseJsonBounded } from '../../server/json-depth.js';
import { arrayField, objectField, stringField } from './fields.js';
import type { CanonicalEntry } from './types.js';
import type { VerifierCache, VerifierMaterial } from './verifier-material.js';

export const DSSE = { kind: 'dsse', apiVersion: '0.0.1' } as const;
export const MAX_DSSE_SIGNATURES = 16;
export const MAX_DSSE_VERIFIERS = 16;
export const MAX_ENVELOPE_CHARS = 3 * 1024 * 1024;
const IN_TOTO = 'application/vnd.in-toto+json';
const MAX_SUBJECT_KEYS = 256;

/**
 * dsse v0.0.1: the envelope (a JSON string) and its verifiers. Every signature must verify
 * over the DSSE PAE with one of the verifiers and every verifier must verify some signature
 * (as Rekor does). The canonical body keeps hashes and signatures only, sorted by signature.
 */
export function canonicalizeDsse(specIn: unknown, keys: VerifierCache): CanonicalEntry {
  const spec = objectField(specIn, 'spec');
  if (spec.envelopeHash !== undefined || spec.payloadHash !== undefined || spec.signatures !== undefined) {
    throw new SigilError('INVALID_ENTRY', 'spec must hold proposedContent only, not server-computed fields');
  }
  const proposed = objectField(spec.proposedContent, 'spec.proposedContent');
  const envelopeText = stringField(proposed.envelope, 'spec.proposedContent.envelope', MAX_ENVELOPE_CHARS);
  const verifierList = arrayField(
    proposed.verifiers,
    'spec.proposedContent.verifiers',
    1,
    MAX_DSSE_VERIFIERS,
  );
  const verifiers = verifierList.map((v, i) => keys.get(v, `spec.proposedContent.verifiers[${i}]`));

  const envelope = objectField(parseJsonBounded(envelopeText), 'envelope');
  const payloadType = stringField(envelope.payloadType, 'envelope.payloadType', 1024);
  const payloadB64 = envelope.payload;
  if (typeof payloadB64 !== 'string')
    throw new SigilError('INVALID_ENTRY', 'envelope.payload must be a string');
  const payload = fromBase64(payloadB64, 'envelope.payload');
  const sigList = arrayField(envelope.signatures, 'envelope.signatures', 1, MAX_DSSE_SIGNATURES);
  const pae = preAuthEncoding(payloadType, payload);

  const verifierBySig = new Map<string, VerifierMaterial>();
  const usedVerifiers = new Set<VerifierMaterial>();
  for (const [i, s] of sigList.entries()) {
    const sigB64 = stringField(
      objectField(s, `envelope.signatures[${i}]`).sig,
      `envelope.signatures[${i}].sig`,
      4096,
    );
    const sig = fromBase64(sigB64, `envelope.signatures[${i}].sig`);
    for (const v of verifiers) {
      if (verifyPae(v, pae, sig)) {
        if (!verifierBySig.has(sigB64)) verifierBySig.set(sigB64, v);
        usedVerifiers.add(v);
      }
    }
    if (!verifierBySig.has(sigB64)) {
      throw new SigilError('INVALID_SIGNATURE', `envelope signature ${i} does not verify with any verifier`);
    }
  }
  if (verifiers.some((v) => !usedVerifiers.has(v))) {
    throw new SigilError('INVALID_SIGNATURE', 'a verifier matches no envelope signature');
  }

  const signatures = [...verifierBySig.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([signature, v]) => ({ signature, verifier: v.canonicalB64 }));
  const envelopeHash = sha256Hex(Buffer.from(envelopeText, 'utf8'));
  const payloadHash = sha256Hex(payload);
  const body = canonicalJson({
    apiVersion: DSSE.apiVersion,
    kind: DSSE.kind,
    spec: {
      envelopeHash: { algorithm: 'sha256', value: envelopeHash },
      payloadHash: { algorithm: 'sha256', value: payloadHash },
      signatures,
    },
  });

  const indexKeys = new Set<string>();
  for (const v of verifierBySig.values()) {
    indexKeys.add(`sha256:${v.pemSha256}`);
    for (const s of v.subjects) indexKeys.add(s);
  }
  indexKeys.add(`sha256:${payloadHash}`);
  indexKeys.add(`sha256:${envelopeHash}`);
  if (payloadType === IN_TOTO) for (const k of inTotoSubjectKeys(payload)) indexKeys.add(k);
  return { ...DSSE, body, indexKeys: [...indexKeys] };
}

/** Rekor verifies DSSE signatures with SHA-256 whatever the curve; Ed25519 is pure. */
function verifyPae(v: VerifierMaterial, pae: Buffer, sig: Buffer): boolean {
  try {
    return nodeVerify(v.kind === 'ed25519' ? null : 'sha256', pae, v.key, sig);
  } catch {
    return false;
  }
}

/** `alg:hex` of every in-toto statement subject digest (best effort, bounded). */
function inTotoSubjectKeys(payload: Buffer): string[] {
  let statement: unknown;
  try {
    statement = parseJsonBounded(payload.toString('utf8'));
  } catch {
    return [];
  }
  const subjects = (statement as { subject?: unknown } | null)?.subject;
  if (!Array.isArray(subjects)) return [];
  const out: string[] = [];
  for (const s of subjects) {
    const digests = (s as { digest?: unknown } | null)?.digest;
    if (typeof digests !== 'object' || digests === null) continue;
    for (const [alg, hex] of Object.entries(digests)) {
      if (typeof hex === 'string' && alg.length <= 32 && hex.length <= 256)
        out.push(`${alg}:${hex}`.toLowerCase());
      if (out.length >= MAX_SUBJECT_KEYS) return out;
    }
  }
  return out;
}
