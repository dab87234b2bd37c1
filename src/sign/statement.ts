import { SigilError } from '../errors/index.js';

export { IN_TOTO_PAYLOAD_TYPE } from '../oci/verify-bundles.js';
export const IN_TOTO_STATEMENT_V01 = 'https://in-toto.io/Statement/v0.1';
export const MAX_PREDICATE_BYTES = 8 * 1024 * 1024;

/** cosign's `--type` shorthands (cosign pkg/types, options/predicate.go). */
export const PREDICATE_TYPES: Record<string, string> = {
  slsaprovenance: 'https://slsa.dev/provenance/v0.2',
  slsaprovenance02: 'https://slsa.dev/provenance/v0.2',
  slsaprovenance1: 'https://slsa.dev/provenance/v1',
  link: 'https://in-toto.io/Link/v1',
  spdx: 'https://spdx.dev/Document',
  spdxjson: 'https://spdx.dev/Document',
  cyclonedx: 'https://cyclonedx.org/bom',
  vuln: 'https://cosign.sigstore.dev/attestation/vuln/v1',
  openvex: 'https://openvex.dev/ns',
  custom: 'https://cosign.sigstore.dev/attestation/v1',
};

/** `--type` → predicate type URI: a shorthand, or an absolute URI given as is. */
export function predicateTypeOf(type: string): string {
  const known = PREDICATE_TYPES[type];
  if (known) return known;
  let u: URL | undefined;
  try {
    u = new URL(type);
  } catch {
    u = undefined;
  }
  if (!u || type.length > 1024) {
    throw new SigilError(
      'INVALID_INPUT',
      `invalid predicate type ${JSON.stringify(type)}: use ${Object.keys(PREDICATE_TYPES).join(', ')} or a URI`,
    );
  }
  return type;
}

/**
 * The predicate object: for `custom` the file's text wrapped as cosign does
 * (`{Data, Timestamp}`), otherwise the file must be a JSON object.
 */
export function predicateOf(type: string, bytes: Buffer, now = new Date()): unknown {
  if (bytes.length > MAX_PREDICATE_BYTES)
    throw new SigilError('TOO_LARGE', `predicate larger than ${MAX_PREDICATE_BYTES} bytes`);
  if (type === 'custom')
    return { Data: bytes.toString('utf8'), Timestamp: now.toISOString().replace(/\.\d{3}Z$/, 'Z') };
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new SigilError('INVALID_INPUT', 'the predicate file is not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new SigilError('INVALID_INPUT', 'the predicate must be a JSON object');
  return v;
}

/** An in-toto v0.1 statement naming one subject by sha256 (what cosign attest makes). */
export function inTotoStatement(
  subjectName: string,
  sha256Hex: string,
  predicateType: string,
  predicate: unknown,
): Buffer {
  const statement = {
    _type: IN_TOTO_STATEMENT_V01,
    predicateType,
    subject: [{ name: subjectName, digest: { sha256: sha256Hex } }],
    predicate,
  };
  return Buffer.from(JSON.stringify(statement), 'utf8');
}
