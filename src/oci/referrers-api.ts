import { SigilError, isSigilError } from '../errors/index.js';
import type { RegistryClient } from './client.js';
import { discard, readBounded } from './http.js';
import { parseManifest } from './manifest.js';
import { INDEX_MEDIA_TYPES, MEDIA_TYPES, type ImageIndex } from './media-types.js';
import { ImageReference, parseDigest } from './reference.js';
import { registryFailure } from './registry-errors.js';
import type { RegistrySession } from './session.js';

/** How long a repository is taken to lack the referrers API after a 404/400/405. */
const REFERRERS_API_MEMO_MS = 5 * 60 * 1000;

/**
 * Manifests whose `subject` is `ref`'s digest, and where the list came from: the OCI 1.1
 * referrers API, or, on registries without it, the fallback tag `<alg>-<hex>` holding an index.
 * `memo` (`registry/repository` → until when) remembers repositories without the API.
 */
export async function listReferrers(
  client: RegistryClient,
  session: RegistrySession,
  memo: Map<string, number>,
  ref: ImageReference,
  opts: { artifactType?: string },
): Promise<{ index: ImageIndex; via: 'referrers-api' | 'fallback-tag' }> {
  if (!ref.digest) throw new SigilError('INVALID_REFERENCE', `referrers need a digest: ${ref.toString()}`);
  const query = opts.artifactType ? `?artifactType=${encodeURIComponent(opts.artifactType)}` : '';
  // A repository without the API is remembered for a while: it saves a request per image.
  const apiKey = `${ref.registry}/${ref.repository}`;
  const knownMissing = (memo.get(apiKey) ?? 0) > Date.now();
  const res = knownMissing
    ? undefined
    : await session.send(ref, {
        method: 'GET',
        url: `/v2/${ref.repository}/referrers/${ref.digest}${query}`,
        headers: { accept: MEDIA_TYPES.ociIndex },
        scope: { repository: ref.repository, actions: ['pull'] },
      });
  let index: ImageIndex | undefined;
  let via: 'referrers-api' | 'fallback-tag' = 'referrers-api';
  const type = (res?.headers.get('content-type') ?? '').split(';')[0]!.trim();
  if (res && res.ok && INDEX_MEDIA_TYPES.includes(type)) {
    const bytes = await readBounded(res, client.maxManifestBytes, `referrers of ${ref.toString()}`);
    index = parseManifest(bytes, type).manifest as ImageIndex;
  } else if (!res || res.ok || res.status === 404 || res.status === 400 || res.status === 405) {
    if (res) {
      await discard(res);
      if (memo.size > 1000) memo.clear();
      memo.set(apiKey, Date.now() + REFERRERS_API_MEMO_MS);
    }
    via = 'fallback-tag';
    const { algorithm, hex } = parseDigest(ref.digest);
    try {
      const got = await client.getManifest(
        new ImageReference(ref.registry, ref.repository, `${algorithm}-${hex}`),
        { accept: [MEDIA_TYPES.ociIndex] },
      );
      index = Array.isArray((got.manifest as ImageIndex).manifests)
        ? (got.manifest as ImageIndex)
        : undefined;
    } catch (e) {
      if (!isSigilError(e, 'NOT_FOUND')) throw e;
    }
  } else {
    throw await registryFailure(res, `referrers of ${ref.toString()}`);
  }
  const manifests = (index?.manifests ?? []).filter(
    (d) => !opts.artifactType || d.artifactType === opts.artifactType,
  );
  return { index: { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests }, via };
}
