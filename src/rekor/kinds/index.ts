import { SigilError } from '../../errors/index.js';
import { objectField } from './fields.js';
import { canonicalizeDsse, DSSE } from './dsse.js';
import { canonicalizeHashedRekord, HASHEDREKORD } from './hashedrekord.js';
import type { CanonicalEntry } from './types.js';
import type { VerifierCache } from './verifier-material.js';

export type { CanonicalEntry } from './types.js';
export { VerifierCache, parseVerifierMaterial, type VerifierMaterial } from './verifier-material.js';
export { HASHEDREKORD, canonicalizeHashedRekord } from './hashedrekord.js';
export { DSSE, canonicalizeDsse } from './dsse.js';

export const SUPPORTED_KINDS = [
  `${HASHEDREKORD.kind} ${HASHEDREKORD.apiVersion}`,
  `${DSSE.kind} ${DSSE.apiVersion}`,
];

/** A proposed entry `{apiVersion, kind, spec}` → its canonical body and index keys (pure, may throw SigilError). */
export function canonicalizeProposedEntry(input: unknown, keys: VerifierCache): CanonicalEntry {
  const entry = objectField(input, 'entry');
  const { kind, apiVersion } = entry;
  if (typeof kind !== 'string' || typeof apiVersion !== 'string') {
    throw new SigilError('INVALID_ENTRY', 'entry must have string kind and apiVersion');
  }
  if (kind === HASHEDREKORD.kind && apiVersion === HASHEDREKORD.apiVersion)
    return canonicalizeHashedRekord(entry.spec, keys);
  if (kind === DSSE.kind && apiVersion === DSSE.apiVersion) return canonicalizeDsse(entry.spec, keys);
  throw new SigilError(
    'INVALID_ENTRY',
    `unsupported entry kind ${JSON.stringify(kind.slice(0, 40))} version ${JSON.stringify(apiVersion.slice(0, 20))} (supported: ${SUPPORTED_KINDS.join(', ')})`,
  );
}
