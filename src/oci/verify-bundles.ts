import { SigilError, isSigilError, type ErrorCode } from '../errors/index.js';
import { parseBundle } from '../bundle/index.js';
import { parseJsonBounded } from '../server/json-depth.js';
import {
  verifyBundle,
  type TrustMaterial,
  type VerificationPolicy,
  type VerificationResult,
  type VerifyOptions,
} from '../verify/index.js';
import type { FoundBundle } from './referrers.js';

/** The DSSE payload type of an in-toto statement. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

export interface VerifiedImageBundle {
  found: FoundBundle;
  statement: { predicateType?: unknown; subject?: unknown; predicate?: unknown };
  /** The bundle JSON as stored. */
  json: unknown;
  result: VerificationResult;
  /** The signer's leaf certificate (DER), keyless bundles only. */
  leaf?: Buffer;
}

export interface BundleClaims {
  /** Require this predicate type (signatures: cosign's sign/v1). */
  predicateType?: string;
  /** `-a` pairs that the subject's annotations must hold. */
  annotations?: Record<string, string>;
}

/** The statement inside a verified DSSE bundle: in-toto, names `digest`, the predicate type and annotations asked. */
export function checkStatement(
  payloadType: string,
  payload: Buffer,
  digest: string,
  claims: BundleClaims,
): VerifiedImageBundle['statement'] {
  if (payloadType !== IN_TOTO_PAYLOAD_TYPE)
    throw new SigilError(
      'VERIFICATION_FAILED',
      `claims: payload type is ${payloadType}, not ${IN_TOTO_PAYLOAD_TYPE}`,
    );
  let st: VerifiedImageBundle['statement'];
  try {
    st = parseJsonBounded(payload.toString('utf8')) as VerifiedImageBundle['statement'];
  } catch {
    throw new SigilError('VERIFICATION_FAILED', 'claims: the statement is not JSON');
  }
  const hex = digest.replace(/^sha256:/, '');
  const subjects = Array.isArray(st?.subject)
    ? (st.subject as { digest?: { sha256?: unknown }; annotations?: Record<string, unknown> }[])
    : [];
  const subject = subjects.find((s) => s?.digest?.sha256 === hex);
  if (!subject) throw new SigilError('DIGEST_MISMATCH', `claims: the statement does not name ${digest}`);
  if (claims.predicateType !== undefined && st.predicateType !== claims.predicateType)
    throw new SigilError(
      'VERIFICATION_FAILED',
      `claims: predicate type is ${JSON.stringify(st.predicateType)}, not ${claims.predicateType}`,
    );
  for (const [k, v] of Object.entries(claims.annotations ?? {})) {
    if (subject.annotations?.[k] !== v)
      throw new SigilError('VERIFICATION_FAILED', `claims: annotation ${k} is not ${JSON.stringify(v)}`);
  }
  return st;
}

export interface BundleCheck {
  verified: VerifiedImageBundle[];
  failures: { index: number; code: ErrorCode; message: string }[];
}

/**
 * Each bundle through the offline pipeline (log, chain, SCT, DSSE signature, identity), then
 * its statement: in-toto, naming the digest it was found for, with the claims asked.
 */
export function checkImageBundles(
  trust: TrustMaterial,
  found: readonly FoundBundle[],
  policy: VerificationPolicy | undefined,
  options: Pick<VerifyOptions, 'tlogThreshold' | 'ctlogThreshold' | 'tsaThreshold' | 'publicKey'>,
  claims: BundleClaims,
): BundleCheck {
  const out: BundleCheck = { verified: [], failures: [] };
  found.forEach((f, index) => {
    try {
      let json: unknown;
      try {
        json = parseJsonBounded(f.bytes.toString('utf8'));
      } catch {
        throw new SigilError('INVALID_BUNDLE', `bundle ${f.layerDigest} is not JSON`);
      }
      const bundle = parseBundle(json);
      const result = verifyBundle(trust, bundle, policy, options);
      const content = bundle.content;
      if (content.kind !== 'dsseEnvelope')
        throw new SigilError('VERIFICATION_FAILED', 'claims: an image bundle must hold a DSSE envelope');
      const statement = checkStatement(
        content.envelope.payloadType,
        content.envelope.payload,
        f.subject,
        claims,
      );
      const vm = bundle.verificationMaterial.content;
      const leaf =
        vm.kind === 'certificate'
          ? vm.certificate
          : vm.kind === 'x509CertificateChain'
            ? vm.certificates[0]
            : undefined;
      out.verified.push({ found: f, statement, json, result, ...(leaf ? { leaf } : {}) });
    } catch (e) {
      if (isSigilError(e, 'POLICY_REQUIRED') || isSigilError(e, 'INVALID_POLICY')) throw e;
      const err = isSigilError(e) ? e : new SigilError('VERIFICATION_FAILED', (e as Error).message);
      out.failures.push({ index, code: err.code, message: err.message });
    }
  });
  return out;
}
