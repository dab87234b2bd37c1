import { SigilError, isSigilError, type ErrorCode } from '../errors/index.js';
import { bundleToJson, parseBundle } from '../bundle/index.js';
import type { RegistryClient } from '../oci/client.js';
import { isIndex, MEDIA_TYPES, type Descriptor } from '../oci/media-types.js';
import type { ImageReference } from '../oci/reference.js';
import {
  COSIGN_SIGN_PREDICATE,
  pushBundleReferrer,
  type FoundBundle,
  type PushedReferrer,
  type ReferrersMode,
} from '../oci/referrers.js';
import { parseJsonBounded } from '../server/json-depth.js';
import {
  verifyBundle,
  type TrustMaterial,
  type VerificationPolicy,
  type VerificationResult,
  type VerifyOptions,
} from '../verify/index.js';
import type { BundleBuilder } from './bundle-builder.js';
import { IN_TOTO_PAYLOAD_TYPE } from './statement.js';
import type { Progress } from './types.js';

export const IN_TOTO_STATEMENT_V1 = 'https://in-toto.io/Statement/v1';

/** The in-toto v1 statement cosign v3 signs for an image (no subject name; `-a` pairs as subject annotations). */
export function imageStatement(
  digest: string,
  predicateType: string,
  predicate: unknown,
  annotations: Record<string, string> = {},
  name?: string,
): Buffer {
  const hex = digest.replace(/^sha256:/, '');
  const subject = { ...(name ? { name } : {}), digest: { sha256: hex }, annotations };
  return Buffer.from(
    JSON.stringify({ _type: IN_TOTO_STATEMENT_V1, subject: [subject], predicateType, predicate }),
    'utf8',
  );
}

/** The subject descriptor (GET by digest: exact media type and size) and, for an index, its children. */
export async function describeSubject(
  client: RegistryClient,
  pinned: ImageReference,
): Promise<{ descriptor: Descriptor; children: Descriptor[] }> {
  const got = await client.getManifest(pinned);
  const descriptor = { mediaType: got.mediaType, digest: got.digest, size: got.bytes.length };
  const children = isIndex(got.manifest)
    ? got.manifest.manifests.filter(
        (d) => d.mediaType === MEDIA_TYPES.ociManifest || d.mediaType === MEDIA_TYPES.dockerManifest,
      )
    : [];
  return { descriptor, children };
}

export interface BundleSignOptions {
  client: RegistryClient;
  /** Pinned image reference. */
  image: ImageReference;
  builder: BundleBuilder;
  predicateType?: string;
  predicate?: unknown;
  annotations?: Record<string, string>;
  mode?: ReferrersMode;
  /** Also sign every platform manifest of an index (cosign `--recursive`). */
  recursive?: boolean;
  progress?: Progress;
}

export interface BundleSignResult {
  digest: string;
  pushed: PushedReferrer;
  logIndex?: number;
}

/**
 * cosign v3 `sign` / `attest`: a DSSE in-toto statement about the digest, logged (dsse entry),
 * wrapped in a bundle v0.3 and pushed as a referrer of the image (API or fallback tag).
 * With `recursive`, every child manifest of an index gets its own referrer too.
 */
export async function signImageBundle(opts: BundleSignOptions): Promise<BundleSignResult[]> {
  const predicateType = opts.predicateType ?? COSIGN_SIGN_PREDICATE;
  const top = await describeSubject(opts.client, opts.image);
  const subjects = [top.descriptor, ...(opts.recursive ? top.children : [])];
  const out: BundleSignResult[] = [];
  for (const subject of subjects) {
    if (!subject.digest.startsWith('sha256:'))
      throw new SigilError('INVALID_REFERENCE', 'in-toto statements name sha256 image digests');
    const statement = imageStatement(subject.digest, predicateType, opts.predicate ?? {}, opts.annotations);
    const signed = await opts.builder.dsse(IN_TOTO_PAYLOAD_TYPE, statement);
    const bundle = Buffer.from(JSON.stringify(bundleToJson(signed.bundle)), 'utf8');
    opts.progress?.(`Pushing bundle for ${subject.digest} to: ${opts.image.context()}`);
    const pushed = await pushBundleReferrer(
      opts.client,
      opts.image,
      { subject, bundle, predicateType },
      opts.mode ?? 'auto',
    );
    const entry = signed.tlogEntries[0];
    out.push({ digest: subject.digest, pushed, ...(entry ? { logIndex: entry.logIndex } : {}) });
  }
  return out;
}

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
  options: Pick<VerifyOptions, 'tlogThreshold' | 'ctlogThreshold' | 'publicKey'>,
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
