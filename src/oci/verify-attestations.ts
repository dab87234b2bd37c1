import { SigilError, isSigilError, type ErrorCode } from '../errors/index.js';
import { pemBlocks } from '../crypto/index.js';
import { BUNDLE_LIMITS, parseCosignRekorBundle, type Bundle, type DsseEnvelope } from '../bundle/index.js';
import { parseJsonBounded } from '../server/json-depth.js';
import type { AttachedLayer } from './cosign.js';
import {
  verifyBundle,
  type TrustMaterial,
  type VerificationPolicy,
  type VerificationResult,
  type VerifyOptions,
} from '../verify/index.js';
import { IN_TOTO_PAYLOAD_TYPE } from './verify-bundles.js';

export const MAX_ENVELOPE_BYTES = 16 * 1024 * 1024;

export interface VerifiedAttestation {
  index: number;
  envelope: DsseEnvelope;
  /** The envelope as stored (what `verify-attestation` prints). */
  envelopeJson: unknown;
  statement: { predicateType?: unknown; subject?: unknown; predicate?: unknown };
  result: VerificationResult;
}

function certificates(text: string | undefined, what: string): Buffer[] {
  if (!text) return [];
  const blocks = pemBlocks(text);
  if (blocks.some((b) => b.type !== 'CERTIFICATE'))
    throw new SigilError('INVALID_CERTIFICATE', `${what} holds a non-certificate PEM block`);
  return blocks.map((b) => b.der);
}

function parseEnvelope(bytes: Buffer): { envelope: DsseEnvelope; json: unknown } {
  if (bytes.length > MAX_ENVELOPE_BYTES) throw new SigilError('TOO_LARGE', 'attestation envelope too large');
  let j: { payloadType?: unknown; payload?: unknown; signatures?: unknown };
  try {
    j = parseJsonBounded(bytes.toString('utf8')) as typeof j;
  } catch (e) {
    throw new SigilError('INVALID_INPUT', 'attestation layer is not a JSON DSSE envelope', { cause: e });
  }
  const sigs = j?.signatures;
  const b64 = /^[A-Za-z0-9+/]*={0,2}$/;
  if (
    typeof j?.payloadType !== 'string' ||
    typeof j.payload !== 'string' ||
    !b64.test(j.payload) ||
    !Array.isArray(sigs) ||
    sigs.length === 0 ||
    sigs.length > BUNDLE_LIMITS.maxDsseSignatures
  ) {
    throw new SigilError('INVALID_INPUT', 'attestation layer is not a DSSE envelope');
  }
  const signatures = sigs.map((s: { sig?: unknown; keyid?: unknown }) => {
    if (typeof s?.sig !== 'string' || !b64.test(s.sig))
      throw new SigilError('INVALID_SIGNATURE', 'DSSE signature is not base64');
    return { sig: Buffer.from(s.sig, 'base64'), keyid: typeof s.keyid === 'string' ? s.keyid : '' };
  });
  return {
    envelope: { payloadType: j.payloadType, payload: Buffer.from(j.payload, 'base64'), signatures },
    json: j,
  };
}

/** A `.att` layer (DSSE envelope + certificate/chain/bundle annotations) as a v0.1-style bundle. */
export function attestationLayerToBundle(layer: AttachedLayer): {
  bundle: Bundle;
  envelope: DsseEnvelope;
  json: unknown;
} {
  const { envelope, json } = parseEnvelope(layer.payload);
  const leaf = certificates(layer.certificate, 'the certificate annotation');
  if (leaf.length > 1)
    throw new SigilError('INVALID_CERTIFICATE', 'the certificate annotation must hold one certificate');
  const chain = certificates(layer.chain, 'the chain annotation');
  const entry = layer.bundle ? parseCosignRekorBundle(layer.bundle) : undefined;
  const bundle: Bundle = {
    mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1',
    version: '0.1',
    verificationMaterial: {
      content: leaf[0]
        ? { kind: 'x509CertificateChain', certificates: [leaf[0], ...chain] }
        : { kind: 'publicKey', hint: '' },
      tlogEntries: entry ? [entry] : [],
      rfc3161Timestamps: [],
    },
    content: { kind: 'dsseEnvelope', envelope },
  };
  return { bundle, envelope, json };
}

/**
 * Verifies the `.att` layers of an image: the pipeline over each envelope, then the statement
 * (in-toto payload type, the image digest among its subjects, the predicate type if asked).
 * Throws NO_SIGNATURES when there are none, else the failing check's code when none verifies.
 */
export function verifyImageAttestations(
  trust: TrustMaterial,
  imageDigest: string,
  layers: readonly AttachedLayer[],
  policy: VerificationPolicy | undefined,
  options: Pick<VerifyOptions, 'tlogThreshold' | 'ctlogThreshold' | 'tsaThreshold' | 'publicKey'> & {
    predicateType?: string;
  } = {},
): VerifiedAttestation[] {
  const hex = imageDigest.replace(/^sha256:/, '');
  const verified: VerifiedAttestation[] = [];
  const failures: { index: number; code: ErrorCode; message: string }[] = [];
  layers.forEach((layer, index) => {
    try {
      const { bundle, envelope, json } = attestationLayerToBundle(layer);
      const { predicateType, ...rest } = options;
      const result = verifyBundle(trust, bundle, policy, rest);
      if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
        throw new SigilError(
          'VERIFICATION_FAILED',
          `claims: payload type is ${envelope.payloadType}, not ${IN_TOTO_PAYLOAD_TYPE}`,
        );
      }
      const statement = JSON.parse(envelope.payload.toString('utf8')) as VerifiedAttestation['statement'];
      const subjects = Array.isArray(statement.subject)
        ? (statement.subject as { digest?: { sha256?: unknown } }[])
        : [];
      if (!subjects.some((s) => s?.digest?.sha256 === hex)) {
        throw new SigilError(
          'DIGEST_MISMATCH',
          `claims: the statement does not name ${imageDigest} as a subject`,
        );
      }
      if (predicateType !== undefined && statement.predicateType !== predicateType) {
        throw new SigilError(
          'VERIFICATION_FAILED',
          `claims: predicate type is ${JSON.stringify(statement.predicateType)}, not ${predicateType}`,
        );
      }
      verified.push({ index, envelope, envelopeJson: json, statement, result });
    } catch (e) {
      if (isSigilError(e, 'POLICY_REQUIRED') || isSigilError(e, 'INVALID_POLICY')) throw e;
      const err = isSigilError(e)
        ? e
        : new SigilError('VERIFICATION_FAILED', (e as Error).message, { cause: e });
      failures.push({ index, code: err.code, message: err.message });
    }
  });
  if (verified.length > 0) return verified;
  if (layers.length === 0) throw new SigilError('NO_SIGNATURES', `no attestations found for ${imageDigest}`);
  const codes = new Set(failures.map((f) => f.code));
  const reasons = failures
    .map((f) => (layers.length === 1 ? f.message : `attestation ${f.index}: ${f.message}`))
    .join('; ');
  throw new SigilError(
    codes.size === 1 ? [...codes][0]! : 'VERIFICATION_FAILED',
    `no matching attestations for ${imageDigest}: ${reasons}`,
  );
}
