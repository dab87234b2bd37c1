import { COSIGN_ANNOTATIONS } from '../bundle/index.js';
import { SigilError, isSigilError } from '../errors/index.js';
import type { RegistryClient } from './client.js';
import { descriptorOf, type ImageBlob } from './image.js';
import { MAX_SIGNATURES } from './manifest.js';
import { MEDIA_TYPES, isIndex, type Descriptor } from './media-types.js';
import { ImageReference, parseDigest } from './reference.js';

export { COSIGN_ANNOTATIONS };

export type AttachmentKind = 'sig' | 'att' | 'sbom';

/** `sha256-<hex>.sig` (or `.att`, `.sbom`) for a manifest digest. */
export function attachmentTag(digest: string, kind: AttachmentKind = 'sig', prefix = ''): string {
  const { algorithm, hex } = parseDigest(digest);
  return `${prefix}${algorithm}-${hex}.${kind}`;
}

/**
 * Where cosign keeps an image's signatures (`sigil triangulate`): the same repository, or
 * `repository` (cosign's COSIGN_REPOSITORY), tagged `sha256-<hex>.sig`.
 */
export function triangulate(
  image: ImageReference,
  kind: AttachmentKind = 'sig',
  repository?: ImageReference,
  tagPrefix?: string,
): ImageReference {
  if (!image.digest)
    throw new SigilError('INVALID_REFERENCE', `${image.toString()} has no digest: resolve the tag first`);
  const where = repository ?? image;
  return new ImageReference(where.registry, where.repository, attachmentTag(image.digest, kind, tagPrefix));
}

/** One signature as cosign stores it: a layer holding the payload, with annotations. */
export interface CosignSignatureInput {
  /** The exact simple-signing payload bytes that were signed. */
  payload: Buffer;
  /** Base64 signature over the payload. */
  signature: string;
  /** PEM leaf certificate (keyless). */
  certificate?: string;
  /** PEM chain: intermediates then root. */
  chain?: string;
  /** Rekor bundle JSON: `{"SignedEntryTimestamp":…,"Payload":{…}}`. */
  bundle?: string;
  /** `{"SignedRFC3161Timestamp":"<b64>"}`. */
  rfc3161Timestamp?: string;
}

/** One attestation: a DSSE envelope layer with its predicate type. */
export interface CosignAttestationInput {
  /** The DSSE envelope JSON bytes. */
  envelope: Buffer;
  predicateType: string;
  certificate?: string;
  chain?: string;
  bundle?: string;
  /** `{"SignedRFC3161Timestamp":"<b64>"}`. */
  rfc3161Timestamp?: string;
}

/** A layer read back from a `.sig`/`.att` manifest, its blob fetched and digest-checked. */
export interface AttachedLayer {
  mediaType: string;
  digest: string;
  /** The layer blob: the simple-signing payload (.sig) or DSSE envelope (.att). */
  payload: Buffer;
  annotations: Record<string, string>;
  /** Convenience views of the annotations. */
  signature?: string;
  certificate?: string;
  chain?: string;
  bundle?: string;
  predicateType?: string;
}

export interface WriteResult {
  /** The attachment reference (`repo:sha256-<hex>.sig`) pinned to the pushed manifest's digest. */
  ref: ImageReference;
  /** Layers now in the manifest. */
  layers: number;
  /** False when an identical layer was already there (nothing pushed). */
  added: boolean;
}

export interface AttachmentOptions {
  /** Store attachments in this repository instead of the image's (cosign's COSIGN_REPOSITORY). */
  repository?: ImageReference;
  /** Prefix of the attachment tags (cosign's `--attachment-tag-prefix`, Kyverno's `source.tagPrefix`). */
  tagPrefix?: string;
  /** Refuse to read or grow past this many layers (default 100). */
  maxLayers?: number;
}

function signatureAnnotations(s: CosignSignatureInput): Record<string, string> {
  const a: Record<string, string> = { [COSIGN_ANNOTATIONS.signature]: s.signature };
  if (s.certificate) a[COSIGN_ANNOTATIONS.certificate] = s.certificate;
  if (s.chain) a[COSIGN_ANNOTATIONS.chain] = s.chain;
  if (s.bundle) a[COSIGN_ANNOTATIONS.bundle] = s.bundle;
  if (s.rfc3161Timestamp) a[COSIGN_ANNOTATIONS.rfc3161Timestamp] = s.rfc3161Timestamp;
  return a;
}

/** go-containerregistry's empty image config after appending these layers (what cosign pushes). */
function attachmentConfig(layers: Descriptor[]): ImageBlob {
  const epoch = '0001-01-01T00:00:00Z';
  const config = {
    architecture: '',
    created: epoch,
    history: layers.map(() => ({ created: epoch })),
    os: '',
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
    config: {},
  };
  return { mediaType: MEDIA_TYPES.ociConfig, bytes: Buffer.from(JSON.stringify(config), 'utf8') };
}

async function existingLayers(
  client: RegistryClient,
  ref: ImageReference,
  max: number,
): Promise<Descriptor[]> {
  try {
    const got = await client.getManifest(ref);
    if (isIndex(got.manifest))
      throw new SigilError('REGISTRY_ERROR', `${ref.toString()} is an index, not a signature manifest`);
    if (got.manifest.layers.length > max) {
      throw new SigilError(
        'TOO_LARGE',
        `${ref.toString()} has ${got.manifest.layers.length} layers, more than the limit of ${max}`,
      );
    }
    return got.manifest.layers;
  } catch (e) {
    if (isSigilError(e, 'NOT_FOUND')) return [];
    throw e;
  }
}

async function appendLayer(
  client: RegistryClient,
  image: ImageReference,
  kind: AttachmentKind,
  blob: ImageBlob,
  isSame: (existing: Descriptor) => boolean,
  opts: AttachmentOptions,
): Promise<WriteResult> {
  const max = opts.maxLayers ?? MAX_SIGNATURES;
  const target = triangulate(image, kind, opts.repository, opts.tagPrefix);
  const layers = await existingLayers(client, target, max);
  const desc = descriptorOf(blob);
  if (layers.some((l) => l.digest === desc.digest && isSame(l))) {
    return { ref: target, layers: layers.length, added: false };
  }
  if (layers.length >= max)
    throw new SigilError('TOO_LARGE', `${target.toString()} already holds ${max} layers`);
  await client.putBlob(target, blob.bytes, { mediaType: blob.mediaType });
  const all = [...layers, desc];
  const config = attachmentConfig(all);
  await client.putBlob(target, config.bytes, { mediaType: config.mediaType });
  const manifest = {
    schemaVersion: 2 as const,
    mediaType: MEDIA_TYPES.ociManifest,
    config: descriptorOf(config),
    layers: all,
  };
  const bytes = Buffer.from(JSON.stringify(manifest), 'utf8');
  const digest = await client.putManifest(target, bytes, MEDIA_TYPES.ociManifest);
  return { ref: target.withDigest(digest), layers: all.length, added: true };
}

/**
 * Adds a signature to the image's `sha256-<hex>.sig` manifest in cosign's layout: reads the
 * existing manifest (if any), appends one simple-signing layer (unless an identical one is
 * there), pushes the layer, a config and the manifest under the tag. `image` must carry a digest.
 */
export async function writeSignature(
  client: RegistryClient,
  image: ImageReference,
  sig: CosignSignatureInput,
  opts: AttachmentOptions = {},
): Promise<WriteResult> {
  const annotations = signatureAnnotations(sig);
  const blob: ImageBlob = { mediaType: MEDIA_TYPES.cosignSimpleSigning, bytes: sig.payload, annotations };
  return appendLayer(
    client,
    image,
    'sig',
    blob,
    (l) => l.annotations?.[COSIGN_ANNOTATIONS.signature] === sig.signature,
    opts,
  );
}

/** Adds an attestation (DSSE envelope layer, `predicateType` annotation) to `sha256-<hex>.att`. */
export async function writeAttestation(
  client: RegistryClient,
  image: ImageReference,
  att: CosignAttestationInput,
  opts: AttachmentOptions = {},
): Promise<WriteResult> {
  const annotations: Record<string, string> = {
    [COSIGN_ANNOTATIONS.signature]: '',
    [COSIGN_ANNOTATIONS.predicateType]: att.predicateType,
  };
  if (att.certificate) annotations[COSIGN_ANNOTATIONS.certificate] = att.certificate;
  if (att.chain) annotations[COSIGN_ANNOTATIONS.chain] = att.chain;
  if (att.bundle) annotations[COSIGN_ANNOTATIONS.bundle] = att.bundle;
  if (att.rfc3161Timestamp) annotations[COSIGN_ANNOTATIONS.rfc3161Timestamp] = att.rfc3161Timestamp;
  const blob: ImageBlob = { mediaType: MEDIA_TYPES.dsseEnvelope, bytes: att.envelope, annotations };
  return appendLayer(client, image, 'att', blob, () => true, opts);
}

/**
 * The layers of an attachment manifest with their blobs, bounded (≤ maxLayers layers, each
 * ≤ the client's blob limit, checked against its descriptor size before fetching). An image
 * with no such tag gives []; an unreachable registry throws REGISTRY_ERROR.
 */
export async function readAttachment(
  client: RegistryClient,
  image: ImageReference,
  kind: AttachmentKind,
  opts: AttachmentOptions = {},
): Promise<AttachedLayer[]> {
  const max = opts.maxLayers ?? MAX_SIGNATURES;
  const target = triangulate(image, kind, opts.repository, opts.tagPrefix);
  const layers = await existingLayers(client, target, max);
  const out: AttachedLayer[] = [];
  for (const l of layers) {
    if (l.size > client.maxBlobBytes)
      throw new SigilError('TOO_LARGE', `layer ${l.digest} of ${target.toString()} is ${l.size} bytes`);
    const payload = await client.getBlob(target, l.digest, { maxBytes: l.size });
    const a = l.annotations ?? {};
    out.push({
      mediaType: l.mediaType,
      digest: l.digest,
      payload,
      annotations: { ...a },
      signature: a[COSIGN_ANNOTATIONS.signature],
      certificate: a[COSIGN_ANNOTATIONS.certificate],
      chain: a[COSIGN_ANNOTATIONS.chain],
      bundle: a[COSIGN_ANNOTATIONS.bundle],
      predicateType: a[COSIGN_ANNOTATIONS.predicateType],
    });
  }
  return out;
}

/** Signature layers (media type simple-signing) of the image's `.sig` manifest. */
export async function readSignatures(
  client: RegistryClient,
  image: ImageReference,
  opts: AttachmentOptions = {},
): Promise<AttachedLayer[]> {
  return (await readAttachment(client, image, 'sig', opts)).filter(
    (l) => l.mediaType === MEDIA_TYPES.cosignSimpleSigning,
  );
}

/** DSSE layers of the image's `.att` manifest. */
export async function readAttestations(
  client: RegistryClient,
  image: ImageReference,
  opts: AttachmentOptions = {},
): Promise<AttachedLayer[]> {
  return (await readAttachment(client, image, 'att', opts)).filter(
    (l) => l.mediaType === MEDIA_TYPES.dsseEnvelope,
  );
}

export interface AttachmentSummary {
  ref: ImageReference;
  /** Digest of the attachment manifest. */
  digest: string;
  layers: { mediaType: string; digest: string; size: number; annotations?: Record<string, string> }[];
}

/** What is attached to an image (`sigil tree`): `.sig`, `.att`, `.sbom` manifests and OCI referrers. */
export interface AttachmentTree {
  image: ImageReference;
  digest: string;
  sig?: AttachmentSummary;
  att?: AttachmentSummary;
  sbom?: AttachmentSummary;
  referrers: Descriptor[];
  /** Where the referrers list came from. */
  referrersVia?: 'referrers-api' | 'fallback-tag';
}

export async function describeAttachments(
  client: RegistryClient,
  image: ImageReference,
  opts: AttachmentOptions = {},
): Promise<AttachmentTree> {
  const digest = image.digest ?? (await client.resolveDigest(image));
  const pinned = image.withDigest(digest);
  const tree: AttachmentTree = { image: pinned, digest, referrers: [] };
  for (const kind of ['sig', 'att', 'sbom'] as const) {
    const ref = triangulate(pinned, kind, opts.repository);
    try {
      const got = await client.getManifest(ref);
      const layers = isIndex(got.manifest)
        ? []
        : got.manifest.layers.slice(0, opts.maxLayers ?? MAX_SIGNATURES);
      tree[kind] = { ref, digest: got.digest, layers };
    } catch (e) {
      if (!isSigilError(e, 'NOT_FOUND')) throw e;
    }
  }
  const { index, via } = await client.referrersWithSource(pinned);
  tree.referrersVia = via;
  tree.referrers = await Promise.all(
    index.manifests.slice(0, opts.maxLayers ?? MAX_SIGNATURES).map((d) => withOwnType(client, pinned, d)),
  );
  return tree;
}

/**
 * A fallback index entry may be typed `oci.empty` and carry no annotations (cosign 3.0):
 * the manifest itself says what it is. Entries already typed keep the index's word.
 */
async function withOwnType(
  client: RegistryClient,
  pinned: ImageReference,
  d: Descriptor,
): Promise<Descriptor> {
  if (d.artifactType && d.artifactType !== MEDIA_TYPES.ociEmpty && d.annotations) return d;
  if (d.mediaType !== MEDIA_TYPES.ociManifest) return d;
  const got = await client.getManifest(pinned.withDigest(d.digest), { accept: [MEDIA_TYPES.ociManifest] });
  if (isIndex(got.manifest)) return d;
  const m = got.manifest;
  const cfg = m.config;
  const artifactType = m.artifactType ?? cfg.artifactType ?? cfg.mediaType;
  return { ...d, artifactType, ...(m.annotations ? { annotations: m.annotations } : {}) };
}
