import { SigilError, type ErrorCode } from '../errors/index.js';
import type { ImageSignatures } from '../oci/signatures.js';
import { COSIGN_SIGN_PREDICATE } from '../oci/referrers.js';
import {
  checkCosignSignatures,
  compilePolicy,
  type TrustMaterial,
  type VerificationPolicy,
  type VerifiedCosignSignature,
  type VerifyOptions,
} from '../verify/index.js';
import { checkImageBundles, type VerifiedImageBundle } from './image-bundle.js';
import { identityFields } from './output.js';

export interface ImageVerification {
  legacy: VerifiedCosignSignature[];
  bundles: VerifiedImageBundle[];
}

type Options = Pick<VerifyOptions, 'tlogThreshold' | 'ctlogThreshold' | 'publicKey'>;

/** Throws the one code all failures share (else VERIFICATION_FAILED), listing each reason. */
function noneVerified(digest: string, what: string, failures: { code: ErrorCode; message: string }[]): never {
  if (failures.length === 0) throw new SigilError('NO_SIGNATURES', `no ${what} found for ${digest}`);
  const codes = new Set(failures.map((f) => f.code));
  const reasons = failures.map((f, i) => (failures.length === 1 ? f.message : `${what} ${i}: ${f.message}`));
  throw new SigilError(
    codes.size === 1 ? [...codes][0]! : 'VERIFICATION_FAILED',
    `no matching ${what} for ${digest}: ${reasons.join('; ')}`,
  );
}

/**
 * `sigil verify` over both layouts: v3 bundles (statement predicate cosign sign/v1 naming the
 * digest it was found for, `-a` pairs as subject annotations) and legacy `.sig` layers, for
 * the image digest and, for an index, the selected platform's manifest. At least one must verify.
 */
export function verifyImageSignatures(
  trust: TrustMaterial,
  digest: string,
  sigs: ImageSignatures,
  policy: VerificationPolicy | undefined,
  options: Options,
  annotations: Record<string, string> = {},
): ImageVerification {
  if (!options.publicKey) compilePolicy(policy);
  const failures: { code: ErrorCode; message: string }[] = [];
  const out: ImageVerification = { legacy: [], bundles: [] };
  for (const g of sigs.legacy) {
    const r = checkCosignSignatures(trust, g.subject, g.layers, policy, options);
    for (const v of r.verified) {
      const optional = (v.payload as { optional?: Record<string, unknown> | null }).optional ?? {};
      const mismatch = Object.entries(annotations).find(([k, want]) => optional[k] !== want);
      if (mismatch)
        failures.push({
          code: 'VERIFICATION_FAILED',
          message: `claims: annotation ${mismatch[0]} is not ${JSON.stringify(mismatch[1])}`,
        });
      else out.legacy.push(v);
    }
    failures.push(...r.failures);
  }
  const b = checkImageBundles(trust, sigs.bundles, policy, options, {
    predicateType: COSIGN_SIGN_PREDICATE,
    annotations,
  });
  out.bundles.push(...b.verified);
  failures.push(...b.failures);
  if (out.legacy.length + out.bundles.length === 0) noneVerified(digest, 'signatures', failures);
  return out;
}

/** `sigil verify-attestation` over v3 bundles: any predicate type, or the one asked. */
export function verifyBundleAttestations(
  trust: TrustMaterial,
  digest: string,
  sigs: ImageSignatures,
  policy: VerificationPolicy | undefined,
  options: Options,
  predicateType?: string,
): VerifiedImageBundle[] {
  if (!options.publicKey) compilePolicy(policy);
  const b = checkImageBundles(trust, sigs.bundles, policy, options, predicateType ? { predicateType } : {});
  if (b.verified.length === 0) noneVerified(digest, 'attestations', b.failures);
  return b.verified;
}

/** What `cosign verify` prints for a v3 bundle: the simple-signing-shaped claims with the identity. */
export function bundleVerifyOutput(v: VerifiedImageBundle, dockerReference: string): unknown {
  const subject = (v.statement.subject as { annotations?: Record<string, unknown> }[] | undefined)?.find(
    (s) => s !== null && typeof s === 'object',
  );
  const optional: Record<string, unknown> = { ...(subject?.annotations ?? {}), ...identityFields(v.result) };
  return {
    critical: {
      identity: { 'docker-reference': dockerReference },
      image: { 'docker-manifest-digest': v.found.subject },
      type: v.statement.predicateType,
    },
    optional: Object.keys(optional).length > 0 ? optional : null,
  };
}
