import { SigilError } from '../errors/index.js';
import type { RegistryClient } from './client.js';
import { readSignatures, type AttachedLayer, type AttachmentOptions } from './cosign.js';
import { isIndex, MEDIA_TYPES, type Descriptor } from './media-types.js';
import { ImageReference } from './reference.js';
import { readBundleReferrers, type FoundBundle } from './referrers.js';

export const DEFAULT_PLATFORM = 'linux/amd64';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** `os/arch[/variant]` → Platform; INVALID_INPUT otherwise. */
export function parsePlatform(text: string): Platform {
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9._-]{1,32}$/.test(p)))
    throw new SigilError('INVALID_INPUT', `invalid platform ${JSON.stringify(text)}: use os/arch[/variant]`);
  return { os: parts[0]!, architecture: parts[1]!, ...(parts[2] ? { variant: parts[2] } : {}) };
}

function platformText(p: Record<string, unknown> | undefined): string {
  if (!p) return '(no platform)';
  return [p.os, p.architecture, p.variant].filter((x) => typeof x === 'string').join('/');
}

function matches(d: Descriptor, want: Platform): boolean {
  const p = d.platform as { os?: unknown; architecture?: unknown; variant?: unknown } | undefined;
  if (!p || p.os !== want.os || p.architecture !== want.architecture) return false;
  return want.variant === undefined || p.variant === want.variant;
}

/** The platform manifest an index selects, or undefined when `pinned` is a single manifest. */
export async function selectPlatform(
  client: RegistryClient,
  pinned: ImageReference,
  platform: Platform,
): Promise<Descriptor | undefined> {
  const got = await client.getManifest(pinned);
  if (!isIndex(got.manifest)) return undefined;
  const manifests = got.manifest.manifests.filter(
    (d) => d.mediaType === MEDIA_TYPES.ociManifest || d.mediaType === MEDIA_TYPES.dockerManifest,
  );
  const hit = manifests.find((d) => matches(d, platform));
  if (hit) return hit;
  const offered = [...new Set(manifests.map((d) => platformText(d.platform)))].slice(0, 10).join(', ');
  throw new SigilError(
    'NOT_FOUND',
    `image index ${pinned.toString()} has no manifest for platform ${platformText(platform as unknown as Record<string, unknown>)} (it has: ${offered || 'none'})`,
  );
}

export interface ImageSignatures {
  /** The digest each group was found for: the index (or single manifest) and, for an index, the selected platform. */
  subjects: string[];
  legacy: { subject: string; layers: AttachedLayer[] }[];
  bundles: FoundBundle[];
}

export interface ReadImageSignaturesOptions extends AttachmentOptions {
  /** For an index, also read the signatures of this platform's manifest. */
  platform?: Platform;
  /** Skip the referrers (v3) or the `.sig` (legacy) lookups. */
  legacy?: boolean;
  bundles?: boolean;
}

/**
 * Everything that can sign `pinned` in one pass: the v3 bundle referrers (referrers API or
 * fallback tag) and the legacy `.sig` layers, looked up concurrently, for the digest itself
 * and, when it is an index and a platform is given, for that platform's manifest.
 */
export async function readImageSignatures(
  client: RegistryClient,
  pinned: ImageReference,
  opts: ReadImageSignaturesOptions = {},
): Promise<ImageSignatures> {
  if (!pinned.digest) throw new SigilError('INVALID_REFERENCE', `${pinned.toString()} has no digest`);
  const subjects = [pinned.digest];
  if (opts.platform) {
    const child = await selectPlatform(client, pinned, opts.platform);
    if (child) subjects.push(child.digest);
  }
  const out: ImageSignatures = { subjects, legacy: [], bundles: [] };
  await Promise.all(
    subjects.flatMap((digest) => {
      const ref = new ImageReference(pinned.registry, pinned.repository, undefined, digest);
      // cosign's target repository holds the bundle referrers too (they name the image digest).
      const where = opts.repository
        ? new ImageReference(opts.repository.registry, opts.repository.repository, undefined, digest)
        : ref;
      const jobs: Promise<void>[] = [];
      if (opts.bundles !== false)
        jobs.push(readBundleReferrers(client, where).then((b) => void out.bundles.push(...b)));
      if (opts.legacy !== false)
        jobs.push(
          readSignatures(client, ref, opts).then(
            (layers) => void out.legacy.push({ subject: digest, layers }),
          ),
        );
      return jobs;
    }),
  );
  return out;
}
