import { SigilError } from '../errors/index.js';
import { toPem } from '../crypto/index.js';
import { cosignRekorBundleAnnotation } from '../bundle/cosign.js';
import type { Bundle } from '../bundle/index.js';
import type { RegistryClient } from '../oci/client.js';
import type { ImageReference } from '../oci/reference.js';
import { buildSimpleSigningPayload } from '../oci/simple-signing.js';
import { writeAttestation, writeSignature, type AttachmentOptions, type WriteResult } from '../oci/cosign.js';
import type { BundleBuilder } from './bundle-builder.js';
import { IN_TOTO_PAYLOAD_TYPE, inTotoStatement } from './statement.js';
import type { KeyMaterial, Progress } from './types.js';

export interface ResolvedImage {
  ref: ImageReference;
  digest: string;
  /** True when the reference named a tag only and the registry was asked for its digest. */
  resolvedFromTag: boolean;
}

/**
 * The digest to sign: the reference's own digest (checked to exist) or the tag's current
 * digest, with a warning saying that the digest, not the tag, gets signed (seed §5).
 */
export async function resolveImage(
  client: RegistryClient,
  ref: ImageReference,
  progress?: Progress,
): Promise<ResolvedImage> {
  if (ref.digest) {
    const head = await client.headManifest(ref);
    if (!head) throw new SigilError('NOT_FOUND', `image ${ref.toString()} not found in the registry`);
    return { ref, digest: ref.digest, resolvedFromTag: false };
  }
  const digest = await client.resolveDigest(ref);
  progress?.(
    `WARNING: Image reference ${ref.toString()} uses a tag, not a digest, to identify the image to sign.\n` +
      `    This can lead you to sign a different image than the intended one. The tag was resolved to\n` +
      `    ${ref.context()}@${digest}, and that digest is what gets signed.`,
  );
  return { ref: ref.withDigest(digest), digest, resolvedFromTag: true };
}

function certificateAnnotations(m: KeyMaterial): { certificate?: string; chain?: string } {
  if (m.kind !== 'certificate') return {};
  return {
    certificate: toPem('CERTIFICATE', m.leaf),
    chain: m.chain.map((d) => toPem('CERTIFICATE', d)).join(''),
  };
}

export interface ImageSignResult {
  image: ResolvedImage;
  payload: Buffer;
  logIndex?: number;
  attached: WriteResult;
}

/** cosign's `dev.sigstore.cosign/rfc3161timestamp` value for the bundle's first RFC 3161 timestamp. */
function timestampAnnotation(bundle: Bundle): { rfc3161Timestamp?: string } {
  const ts = bundle.verificationMaterial.rfc3161Timestamps[0];
  return ts ? { rfc3161Timestamp: JSON.stringify({ SignedRFC3161Timestamp: ts.toString('base64') }) } : {};
}

/**
 * `sigil sign`: the simple-signing payload for the digest, signed, logged (hashedrekord), and
 * attached in cosign's layout with the signature, certificate, chain and Rekor bundle annotations.
 */
export async function signImage(opts: {
  client: RegistryClient;
  image: ResolvedImage;
  builder: BundleBuilder;
  annotations?: Record<string, string>;
  attachment?: AttachmentOptions;
  progress?: Progress;
}): Promise<ImageSignResult> {
  const { image } = opts;
  const payload = buildSimpleSigningPayload(
    image.ref.dockerReference(),
    image.digest,
    opts.annotations ?? null,
  );
  const signed = await opts.builder.message(payload);
  const entry = signed.tlogEntries[0];
  opts.progress?.(`Pushing signature to: ${image.ref.context()}`);
  const attached = await writeSignature(
    opts.client,
    image.ref,
    {
      payload,
      signature: signed.signature.signature.toString('base64'),
      ...certificateAnnotations(signed.signature.material),
      ...(entry ? { bundle: cosignRekorBundleAnnotation(entry) } : {}),
      ...timestampAnnotation(signed.bundle),
    },
    opts.attachment,
  );
  return { image, payload, ...(entry ? { logIndex: entry.logIndex } : {}), attached };
}

export interface ImageAttestResult {
  image: ResolvedImage;
  statement: Buffer;
  logIndex?: number;
  attached: WriteResult;
}

/** `sigil attest`: an in-toto statement about the digest in a DSSE envelope, logged (dsse), attached as `.att`. */
export async function attestImage(opts: {
  client: RegistryClient;
  image: ResolvedImage;
  builder: BundleBuilder;
  predicateType: string;
  predicate: unknown;
  attachment?: AttachmentOptions;
  progress?: Progress;
}): Promise<ImageAttestResult> {
  const { image } = opts;
  const hex = image.digest.slice(image.digest.indexOf(':') + 1);
  if (!image.digest.startsWith('sha256:'))
    throw new SigilError('INVALID_REFERENCE', 'attestations name sha256 image digests');
  const statement = inTotoStatement(image.ref.dockerReference(), hex, opts.predicateType, opts.predicate);
  const signed = await opts.builder.dsse(IN_TOTO_PAYLOAD_TYPE, statement);
  const entry = signed.tlogEntries[0];
  opts.progress?.(`Pushing attestation to: ${image.ref.context()}`);
  const attached = await writeAttestation(
    opts.client,
    image.ref,
    {
      envelope: Buffer.from(JSON.stringify(signed.envelope), 'utf8'),
      predicateType: opts.predicateType,
      ...certificateAnnotations(signed.signature.material),
      ...(entry ? { bundle: cosignRekorBundleAnnotation(entry) } : {}),
      ...timestampAnnotation(signed.bundle),
    },
    opts.attachment,
  );
  return { image, statement, ...(entry ? { logIndex: entry.logIndex } : {}), attached };
}
