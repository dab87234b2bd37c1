import { SigilError } from '../errors/index.js';
import { bundleToJson } from '../bundle/index.js';
import type { RegistryClient } from '../oci/client.js';
import { isIndex, MEDIA_TYPES, type Descriptor } from '../oci/media-types.js';
import type { ImageReference } from '../oci/reference.js';
import {
  COSIGN_SIGN_PREDICATE,
  pushBundleReferrer,
  type PushedReferrer,
  type ReferrersMode,
} from '../oci/referrers.js';
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

export * from '../oci/verify-bundles.js';
