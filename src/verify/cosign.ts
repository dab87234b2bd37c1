import { SigilError, isSigilError, type ErrorCode } from '../errors/index.js';
import {
  COSIGN_SIGNATURE_TYPE,
  cosignLayerToItem,
  type CosignSignatureItem,
  type CosignSignatureLayer,
} from '../bundle/index.js';
import { compilePolicy, type VerificationPolicy } from './policy.js';
import type { VerificationResult } from './result.js';
import { verifyBundle, type VerifyOptions } from './verifier.js';
import type { TrustMaterial } from './trust.js';

export const MAX_SIGNATURE_LAYERS = 100;

export interface VerifiedCosignSignature {
  index: number;
  item: CosignSignatureItem;
  /** The simple-signing payload as JSON (what cosign prints, before it adds `optional` fields). */
  payload: unknown;
  result: VerificationResult;
}

export interface CosignLayerFailure {
  index: number;
  code: ErrorCode;
  message: string;
}

export interface CosignVerification {
  digest: string;
  verified: VerifiedCosignSignature[];
  failures: CosignLayerFailure[];
}

type CosignOptions = Pick<VerifyOptions, 'tlogThreshold' | 'ctlogThreshold' | 'tsaThreshold' | 'publicKey'>;

/** The payload claims: it names this image digest and is a cosign container image signature. */
function checkClaims(item: CosignSignatureItem, digest: string): void {
  if (item.simpleSigning.type !== COSIGN_SIGNATURE_TYPE) {
    throw new SigilError(
      'VERIFICATION_FAILED',
      `claims: payload type is ${JSON.stringify(item.simpleSigning.type)}, not "${COSIGN_SIGNATURE_TYPE}"`,
    );
  }
  if (item.simpleSigning.dockerManifestDigest !== digest) {
    throw new SigilError(
      'DIGEST_MISMATCH',
      `claims: the payload names ${item.simpleSigning.dockerManifestDigest}, not ${digest}`,
    );
  }
}

/**
 * Verifies each cosign signature layer of an image (payload bytes + annotations, as the OCI
 * helper fetched them) with the shared pipeline, then the payload claims. Never throws for a bad
 * layer: each failure is reported with its code and the check that failed.
 */
export function checkCosignSignatures(
  trust: TrustMaterial,
  imageDigest: string,
  layers: readonly CosignSignatureLayer[],
  policy: VerificationPolicy | undefined,
  options: CosignOptions = {},
): CosignVerification {
  if (!/^sha256:[0-9a-f]{64}$/.test(imageDigest))
    throw new SigilError(
      'INVALID_REFERENCE',
      `image digest ${JSON.stringify(imageDigest)} is not sha256:<64 hex>`,
    );
  if (layers.length > MAX_SIGNATURE_LAYERS)
    throw new SigilError('TOO_LARGE', `more than ${MAX_SIGNATURE_LAYERS} signature layers`);
  const out: CosignVerification = { digest: imageDigest, verified: [], failures: [] };
  layers.forEach((layer, index) => {
    try {
      const item = cosignLayerToItem(layer);
      // cosign's UseSignedTimestamps: the annotation's timestamp counts (and must verify) only when asked for.
      if ((options.tsaThreshold ?? 0) > 0 && item.rfc3161Timestamp)
        item.bundle.verificationMaterial.rfc3161Timestamps = [item.rfc3161Timestamp];
      const result = verifyBundle(trust, item.bundle, policy, { ...options, artifact: item.payload });
      checkClaims(item, imageDigest);
      out.verified.push({
        index,
        item,
        payload: JSON.parse(item.payload.toString('utf8')) as unknown,
        result,
      });
    } catch (e) {
      // A missing policy is the caller's error, not the layer's.
      if (isSigilError(e, 'POLICY_REQUIRED') || isSigilError(e, 'INVALID_POLICY')) throw e;
      const err = isSigilError(e)
        ? e
        : new SigilError('VERIFICATION_FAILED', (e as Error).message, { cause: e });
      out.failures.push({ index, code: err.code, message: err.message });
    }
  });
  return out;
}

/**
 * Like checkCosignSignatures, but throws when no signature verified: NO_SIGNATURES for an
 * unsigned image, else the failing check's code (VERIFICATION_FAILED when layers differ), with a
 * message listing each layer's reason.
 */
export function verifyCosignImage(
  trust: TrustMaterial,
  imageDigest: string,
  layers: readonly CosignSignatureLayer[],
  policy: VerificationPolicy | undefined,
  options: CosignOptions = {},
): VerifiedCosignSignature[] {
  if (!options.publicKey) compilePolicy(policy);
  const r = checkCosignSignatures(trust, imageDigest, layers, policy, options);
  if (r.verified.length > 0) return r.verified;
  if (layers.length === 0) throw new SigilError('NO_SIGNATURES', `no signatures found for ${imageDigest}`);
  const codes = new Set(r.failures.map((f) => f.code));
  const code: ErrorCode = codes.size === 1 ? [...codes][0]! : 'VERIFICATION_FAILED';
  const reasons = r.failures
    .map((f) => (layers.length === 1 ? f.message : `signature ${f.index}: ${f.message}`))
    .join('; ');
  throw new SigilError(code, `no matching signatures for ${imageDigest}: ${reasons}`);
}
