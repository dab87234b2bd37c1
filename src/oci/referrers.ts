import { setTimeout as sleep } from 'node:timers/promises';
import { SigilError, isSigilError } from '../errors/index.js';
import type { FetchedManifest, RegistryClient } from './client.js';
import { computeDigest, MAX_SIGNATURES } from './manifest.js';
import { MEDIA_TYPES, isIndex, type Descriptor, type ImageIndex, type ImageManifest } from './media-types.js';
import { ImageReference, parseDigest } from './reference.js';

/** cosign v3 / sigstore-js storage of Sigstore bundles as OCI 1.1 referrers (WIRE-2026 §4). */
export const BUNDLE_ARTIFACT_PREFIX = 'application/vnd.dev.sigstore.bundle';
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';
export const BUNDLE_ANNOTATIONS = {
  content: 'dev.sigstore.bundle.content',
  predicateType: 'dev.sigstore.bundle.predicateType',
  created: 'org.opencontainers.image.created',
} as const;
/** `{}`: the OCI empty descriptor's content. */
export const EMPTY_JSON = Buffer.from('{}', 'utf8');
/** A bundle layer is a few KiB; cosign allows 128 MiB, admission needs far less. */
export const MAX_BUNDLE_BYTES = 16 * 1024 * 1024;
/** All bundle layers of one image together (they are read concurrently). */
export const MAX_TOTAL_BUNDLE_BYTES = 64 * 1024 * 1024;

/**
 * How the referrer is made findable: `auto` uses the referrers API when the registry
 * answers the push with `OCI-Subject`, else the fallback tag; `oci-1-1` requires the API;
 * `legacy` always maintains the fallback tag (cosign's `--registry-referrers-mode`).
 */
export type ReferrersMode = 'auto' | 'oci-1-1' | 'legacy';

export interface BundleReferrerInput {
  /** The signed manifest, as the registry describes it (HEAD): digest, media type, size. */
  subject: Descriptor;
  /** The bundle JSON bytes, stored as the one layer. */
  bundle: Buffer;
  /** The statement's predicate type (`https://sigstore.dev/cosign/sign/v1` for signatures). */
  predicateType: string;
  mediaType?: string;
  created?: Date;
}

export interface PushedReferrer {
  /** The referrer manifest, pinned. */
  ref: ImageReference;
  manifest: ImageManifest;
  /** 'referrers-api' when the registry indexes it, 'fallback-tag' when the tag index lists it. */
  via: 'referrers-api' | 'fallback-tag';
}

/** The fallback tag `sha256-<hex>` (no suffix) of a subject digest. */
export function fallbackTag(digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return `${algorithm}-${hex}`;
}

/** The referrer manifest cosign v3 writes (pure): empty config, one bundle layer, subject, annotations. */
export function bundleReferrerManifest(input: BundleReferrerInput): ImageManifest {
  const mediaType = input.mediaType ?? MEDIA_TYPES.sigstoreBundle;
  const created = (input.created ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    artifactType: mediaType,
    config: { mediaType: MEDIA_TYPES.ociEmpty, digest: computeDigest(EMPTY_JSON), size: 2 },
    layers: [{ mediaType, digest: computeDigest(input.bundle), size: input.bundle.length }],
    subject: { mediaType: input.subject.mediaType, digest: input.subject.digest, size: input.subject.size },
    annotations: {
      [BUNDLE_ANNOTATIONS.content]: 'dsse-envelope',
      [BUNDLE_ANNOTATIONS.predicateType]: input.predicateType,
      [BUNDLE_ANNOTATIONS.created]: created,
    },
  };
}

/** The descriptor a fallback index lists for a referrer (artifactType and annotations, per spec 1.1). */
export function referrerDescriptor(manifest: ImageManifest, bytes: Buffer): Descriptor {
  const artifactType = manifest.artifactType ?? manifest.config.mediaType;
  return {
    mediaType: manifest.mediaType ?? MEDIA_TYPES.ociManifest,
    digest: computeDigest(bytes),
    size: bytes.length,
    ...(manifest.annotations ? { annotations: manifest.annotations } : {}),
    artifactType,
  };
}

/** Pushes the empty config, the bundle layer and the referrer manifest (by digest). */
export async function pushBundleReferrer(
  client: RegistryClient,
  repo: ImageReference,
  input: BundleReferrerInput,
  mode: ReferrersMode = 'auto',
): Promise<PushedReferrer> {
  const manifest = bundleReferrerManifest(input);
  const bytes = Buffer.from(JSON.stringify(manifest), 'utf8');
  await client.putBlob(repo, EMPTY_JSON, { mediaType: MEDIA_TYPES.ociEmpty });
  await client.putBlob(repo, input.bundle, { mediaType: manifest.layers[0]!.mediaType });
  const digest = computeDigest(bytes);
  const target = new ImageReference(repo.registry, repo.repository, undefined, digest);
  const pushed = await client.putManifestWithResponse(target, bytes, MEDIA_TYPES.ociManifest);
  const indexed = pushed.subjectHeader === input.subject.digest;
  if (mode === 'oci-1-1' && !indexed)
    throw new SigilError(
      'REGISTRY_ERROR',
      `registry ${repo.registry} did not index the referrer (no OCI-Subject answer): it lacks the OCI 1.1 referrers API; use --registry-referrers-mode legacy`,
    );
  if (indexed && mode !== 'legacy') return { ref: target, manifest, via: 'referrers-api' };
  await appendToFallbackIndex(client, repo, input.subject.digest, referrerDescriptor(manifest, bytes));
  return { ref: target, manifest, via: 'fallback-tag' };
}

const MAX_APPEND_ATTEMPTS = 12;

async function readFallbackIndex(
  client: RegistryClient,
  tagRef: ImageReference,
): Promise<{ manifests: Descriptor[]; digest?: string }> {
  let got: FetchedManifest;
  try {
    got = await client.getManifest(tagRef, { accept: [MEDIA_TYPES.ociIndex] });
  } catch (e) {
    if (isSigilError(e, 'NOT_FOUND')) return { manifests: [] };
    throw e;
  }
  if (!isIndex(got.manifest))
    throw new SigilError('REGISTRY_ERROR', `fallback tag ${tagRef.toString()} is not an image index`);
  return { manifests: got.manifest.manifests, digest: got.digest };
}

/**
 * Read, append, write the fallback tag index, never dropping an entry that is there. The
 * registry offers no compare-and-swap (docker-registry 2.8 ignores If-Match), so after each
 * write the index is read again after a pause longer than this writer's own read→write gap
 * (plus jitter): a concurrent writer that read before our write has written by then, and if
 * it dropped our entry we append again. Entries are sorted by digest, as go-containerregistry does.
 */
export async function appendToFallbackIndex(
  client: RegistryClient,
  repo: ImageReference,
  subjectDigest: string,
  entry: Descriptor,
): Promise<void> {
  const tagRef = new ImageReference(repo.registry, repo.repository, fallbackTag(subjectDigest));
  let lastError: unknown;
  for (let attempt = 0; attempt < MAX_APPEND_ATTEMPTS; attempt++) {
    try {
      if (await appendOnce(client, tagRef, entry, attempt)) return;
    } catch (e) {
      // docker-registry answers 500 now and then while another writer replaces the tag: retry.
      if (!isSigilError(e, 'REGISTRY_ERROR') || !/answered 5\d\d/.test(e.message)) throw e;
      lastError = e;
      await sleep(20 + Math.floor(Math.random() * 80));
    }
  }
  if (lastError) throw lastError;
  throw new SigilError(
    'REGISTRY_ERROR',
    `could not add the referrer to ${tagRef.toString()}: concurrent writers kept replacing the index`,
  );
}

/** One read-append-write-verify round; true once the entry is seen in the index after a pause. */
async function appendOnce(
  client: RegistryClient,
  tagRef: ImageReference,
  entry: Descriptor,
  attempt: number,
): Promise<boolean> {
  const started = Date.now();
  const current = await readFallbackIndex(client, tagRef);
  if (current.manifests.length >= MAX_SIGNATURES * 10)
    throw new SigilError('TOO_LARGE', `fallback index ${tagRef.toString()} already lists too many referrers`);
  if (!current.manifests.some((d) => d.digest === entry.digest)) {
    const manifests = [...current.manifests, entry].sort((a, b) => (a.digest < b.digest ? -1 : 1));
    const index: ImageIndex = { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests };
    const headers: Record<string, string> = current.digest ? { 'if-match': `"${current.digest}"` } : {};
    await client.putManifestWithResponse(
      tagRef,
      Buffer.from(JSON.stringify(index), 'utf8'),
      MEDIA_TYPES.ociIndex,
      headers,
    );
  } else if (attempt > 0) return true;
  const gap = Date.now() - started;
  await sleep(Math.max(50, 3 * gap) + Math.floor(Math.random() * 50));
  const after = await readFallbackIndex(client, tagRef);
  return after.manifests.some((d) => d.digest === entry.digest);
}

export interface FoundBundle {
  /** Digest of the referrer manifest that holds it. */
  manifestDigest: string;
  layerDigest: string;
  mediaType: string;
  /** The layer bytes (bundle JSON), digest-checked. */
  bytes: Buffer;
  /** The manifest's `dev.sigstore.bundle.predicateType` annotation (a hint; the statement decides). */
  predicateType?: string;
  /** The subject digest these bundles were found for. */
  subject: string;
  via: 'referrers-api' | 'fallback-tag';
}

function isBundleType(t: string | undefined): boolean {
  return t !== undefined && t.startsWith(BUNDLE_ARTIFACT_PREFIX);
}

/** Index descriptors worth fetching: ignore types that cannot hold a bundle manifest. */
function candidate(d: Descriptor): boolean {
  if (d.mediaType !== MEDIA_TYPES.ociManifest) return false;
  return (
    d.artifactType === undefined || d.artifactType === MEDIA_TYPES.ociEmpty || isBundleType(d.artifactType)
  );
}

/** The manifest's own artifact type (top-level, config.artifactType, config media type), per cosign 3.0 … 3.2. */
export function manifestArtifactTypes(m: ImageManifest): string[] {
  const cfg = m.config as Descriptor;
  return [m.artifactType, cfg.artifactType, cfg.mediaType].filter((t): t is string => t !== undefined);
}

/**
 * The Sigstore bundles attached to `pinned` as referrers: the referrers API (or, where the
 * registry lacks it, the fallback tag index), each candidate manifest fetched by digest and
 * kept when its own artifactType or config says bundle (index descriptors are not trusted:
 * cosign 3.0 typed them `oci.empty`) and its `subject` is this digest. At most `max`
 * manifests are read; layers are bounded by size before and while reading, and every blob's
 * digest is checked (a mismatch throws DIGEST_MISMATCH).
 */
export async function readBundleReferrers(
  client: RegistryClient,
  pinned: ImageReference,
  opts: { max?: number; maxBundleBytes?: number } = {},
): Promise<FoundBundle[]> {
  const digest = pinned.digest;
  if (!digest) throw new SigilError('INVALID_REFERENCE', `${pinned.toString()} has no digest`);
  const max = opts.max ?? MAX_SIGNATURES;
  const maxBytes = opts.maxBundleBytes ?? MAX_BUNDLE_BYTES;
  const { index, via } = await client.referrersWithSource(pinned);
  const candidates = index.manifests.filter(candidate);
  if (candidates.length > max)
    throw new SigilError(
      'TOO_LARGE',
      `${pinned.toString()} has ${candidates.length} referrers, more than the limit of ${max}`,
    );
  let budget = MAX_TOTAL_BUNDLE_BYTES;
  const perReferrer = await Promise.all(
    candidates.map(async (d): Promise<FoundBundle[]> => {
      const ref = new ImageReference(pinned.registry, pinned.repository, undefined, d.digest);
      const got = await client.getManifest(ref, { accept: [MEDIA_TYPES.ociManifest] });
      if (isIndex(got.manifest)) return [];
      const m = got.manifest;
      if (!manifestArtifactTypes(m).some(isBundleType) || m.subject?.digest !== digest) return [];
      const found: FoundBundle[] = [];
      const layers = m.layers.filter((l) => isBundleType(l.mediaType));
      if (layers.length > max)
        throw new SigilError('TOO_LARGE', `referrer ${d.digest} holds ${layers.length} bundle layers`);
      for (const l of layers) {
        if (l.size > maxBytes)
          throw new SigilError(
            'TOO_LARGE',
            `bundle layer ${l.digest} of referrer ${d.digest} is ${l.size} bytes, more than ${maxBytes}`,
          );
        budget -= l.size;
        if (budget < 0)
          throw new SigilError(
            'TOO_LARGE',
            `the bundles of ${pinned.toString()} add up to more than ${MAX_TOTAL_BUNDLE_BYTES} bytes`,
          );
        const bytes = await client.getBlob(pinned, l.digest, { maxBytes: l.size });
        const predicateType = m.annotations?.[BUNDLE_ANNOTATIONS.predicateType];
        found.push({
          manifestDigest: got.digest,
          layerDigest: l.digest,
          mediaType: l.mediaType,
          bytes,
          ...(predicateType ? { predicateType } : {}),
          subject: digest,
          via,
        });
      }
      return found;
    }),
  );
  const out = perReferrer.flat();
  return out;
}

/** Kyverno's bounds on typed referrers (imagedataloader: maxReferrersCount, maxPayloadSize). */
export const MAX_ARTIFACT_REFERRERS = 50;
export const MAX_ARTIFACT_PAYLOAD_BYTES = 4 * 1024 * 1024;

export interface ArtifactReferrer {
  /** The referrer manifest's digest (what a signature on the referrer names). */
  digest: string;
  /** Its one layer, digest-checked. */
  payload: Buffer;
}

/**
 * The referrers of `pinned` whose artifactType is `artifactType` (Kyverno's FetchReferrers
 * filters on the index descriptor), each fetched by digest and kept when its own artifact type
 * agrees, its subject is this digest and it holds exactly one layer (FetchReferrerData), that
 * layer read within MAX_ARTIFACT_PAYLOAD_BYTES.
 */
export async function readArtifactReferrers(
  client: RegistryClient,
  pinned: ImageReference,
  artifactType: string,
): Promise<ArtifactReferrer[]> {
  const digest = pinned.digest;
  if (!digest) throw new SigilError('INVALID_REFERENCE', `${pinned.toString()} has no digest`);
  const { index } = await client.referrersWithSource(pinned, { artifactType });
  if (index.manifests.length > MAX_ARTIFACT_REFERRERS)
    throw new SigilError(
      'TOO_LARGE',
      `${pinned.toString()} has ${index.manifests.length} referrers, more than the limit of ${MAX_ARTIFACT_REFERRERS}`,
    );
  const typed = index.manifests.filter(
    (d) => d.artifactType === artifactType && d.mediaType === MEDIA_TYPES.ociManifest,
  );
  const out: ArtifactReferrer[] = [];
  for (const d of typed) {
    const ref = new ImageReference(pinned.registry, pinned.repository, undefined, d.digest);
    const got = await client.getManifest(ref, { accept: [MEDIA_TYPES.ociManifest] });
    if (isIndex(got.manifest)) continue;
    const m = got.manifest;
    if (m.subject?.digest !== digest || !manifestArtifactTypes(m).includes(artifactType)) continue;
    if (m.layers.length !== 1) continue;
    const layer = m.layers[0]!;
    if (layer.size > MAX_ARTIFACT_PAYLOAD_BYTES)
      throw new SigilError('TOO_LARGE', `referrer ${d.digest}: its layer is ${layer.size} bytes`);
    out.push({
      digest: got.digest,
      payload: await client.getBlob(pinned, layer.digest, { maxBytes: layer.size }),
    });
  }
  return out;
}
