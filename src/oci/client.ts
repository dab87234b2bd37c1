import { SigilError } from '../errors/index.js';
import type { CredentialStore } from './auth.js';
import { discard, readBounded } from './http.js';
import {
  assertDigest,
  computeDigest,
  MAX_ATTACHMENT_BYTES,
  MAX_MANIFEST_BYTES,
  parseManifest,
} from './manifest.js';
import {
  MANIFEST_MEDIA_TYPES,
  MEDIA_TYPES,
  type Descriptor,
  type ImageIndex,
  type Manifest,
} from './media-types.js';
import { ImageReference, parseDigest } from './reference.js';
import type { RegistryResponse } from './transport.js';
import { appendToFallbackIndex } from './referrers.js';
import { listReferrers } from './referrers-api.js';
import {
  DEFAULT_MAX_REDIRECTS,
  DEFAULT_TIMEOUT_MS,
  RegistrySession,
  type Action,
  type RequestSpec,
} from './session.js';
import { isRegistryAnswer, registryFailure } from './registry-errors.js';

export { DEFAULT_MAX_REDIRECTS, DEFAULT_TIMEOUT_MS, isRegistryAnswer };

const MAX_TAG_PAGES = 100;

export interface RegistryClientOptions {
  /** Where credentials come from (docker config, flags); anonymous when absent or unknown. */
  credentials?: CredentialStore;
  /** Registries (host[:port]) that may be spoken to over plain HTTP; loopback always may. */
  insecureRegistries?: readonly string[];
  /** Per-request timeout including reading the body (default 30 s). */
  timeoutMs?: number;
  maxRedirects?: number;
  maxManifestBytes?: number;
  maxBlobBytes?: number;
  userAgent?: string;
}

export interface FetchedManifest {
  /** The exact bytes served; their digest is `digest`. */
  bytes: Buffer;
  mediaType: string;
  /** Computed from `bytes`, never taken from a header. */
  digest: string;
  manifest: Manifest;
}

/**
 * A client for the OCI distribution API. It authenticates per registry (anonymous, basic,
 * bearer token from a `WWW-Authenticate` challenge), follows at most `maxRedirects`
 * redirects by hand and never sends credentials to an origin other than the registry's,
 * bounds every body it reads, and checks every digest it is given against the bytes.
 */
export class RegistryClient {
  readonly maxManifestBytes: number;
  readonly maxBlobBytes: number;
  /** `registry/repository` → until when it is taken to lack the referrers API (a 404/400/405 seen). */
  private readonly noReferrersApi = new Map<string, number>();
  private readonly session: RegistrySession;

  constructor(opts: RegistryClientOptions = {}) {
    this.session = new RegistrySession(opts);
    this.maxManifestBytes = opts.maxManifestBytes ?? MAX_MANIFEST_BYTES;
    this.maxBlobBytes = opts.maxBlobBytes ?? MAX_ATTACHMENT_BYTES;
  }

  /** Plain HTTP is used only for loopback registries and those named insecure. */
  baseUrl(registryHost: string): string {
    return this.session.baseUrl(registryHost);
  }

  /** Checks that the registry answers the distribution API (authenticating if it asks). */
  async ping(registry: string | ImageReference): Promise<void> {
    const ref = typeof registry === 'string' ? new ImageReference(registry, 'x') : registry;
    const res = await this.send(ref, { method: 'GET', url: '/v2/' });
    if (!res.ok) throw await this.failure(res, `registry ${ref.registry}`);
    await discard(res);
  }

  /** GET a manifest by tag or digest; checks the bytes against a pinned digest and the served header. */
  async getManifest(
    ref: ImageReference,
    opts: { accept?: readonly string[] } = {},
  ): Promise<FetchedManifest> {
    const id = ref.identifier();
    const res = await this.send(ref, {
      method: 'GET',
      url: `/v2/${ref.repository}/manifests/${id}`,
      headers: { accept: (opts.accept ?? MANIFEST_MEDIA_TYPES).join(', ') },
      scope: { repository: ref.repository, actions: ['pull'] },
    });
    if (!res.ok) throw await this.failure(res, `manifest ${ref.toString()}`);
    const bytes = await readBounded(res, this.maxManifestBytes, `manifest ${ref.toString()}`);
    const what = `manifest ${ref.toString()}`;
    if (ref.digest) assertDigest(bytes, ref.digest, what);
    const digest = ref.digest ?? computeDigest(bytes);
    const header = res.headers.get('docker-content-digest');
    if (header && header.startsWith('sha256:') && !ref.digest)
      assertDigest(bytes, header, `${what} (Docker-Content-Digest)`);
    const { manifest, mediaType } = parseManifest(bytes, res.headers.get('content-type') ?? undefined);
    return { bytes, mediaType, digest, manifest };
  }

  /**
   * HEAD a manifest: its descriptor as the registry states it, or undefined when absent.
   * The digest here is the registry's claim; use resolveDigest where it matters.
   */
  async headManifest(ref: ImageReference): Promise<Descriptor | undefined> {
    const res = await this.send(ref, {
      method: 'HEAD',
      url: `/v2/${ref.repository}/manifests/${ref.identifier()}`,
      headers: { accept: MANIFEST_MEDIA_TYPES.join(', ') },
      scope: { repository: ref.repository, actions: ['pull'] },
    });
    if (res.status === 404) {
      await discard(res);
      return undefined;
    }
    if (!res.ok) throw await this.failure(res, `manifest ${ref.toString()}`);
    await discard(res);
    const digest = res.headers.get('docker-content-digest') ?? ref.digest;
    if (!digest) throw new SigilError('REGISTRY_ERROR', `registry gave no digest for ${ref.toString()}`);
    return {
      mediaType: (res.headers.get('content-type') ?? MEDIA_TYPES.ociManifest).split(';')[0]!.trim(),
      digest,
      size: Number(res.headers.get('content-length') ?? 0),
    };
  }

  /** Tag → digest, computed from the manifest bytes (a pinned digest is fetched and checked). */
  async resolveDigest(ref: ImageReference): Promise<string> {
    return (await this.getManifest(ref)).digest;
  }

  /**
   * Tag → digest in one HEAD, as `crane digest` and cosign do: the registry's
   * Docker-Content-Digest, which must be a well-formed digest and, for a pinned reference, the
   * pinned one (NOT_FOUND when the repository does not serve it). The digest is the registry's
   * claim, not a hash of bytes read here: use it where what runs is pinned to this digest and
   * verified against it (the runtime checks the bytes it pulls by digest). Falls back to a GET
   * (resolveDigest) when the registry sends no digest header.
   */
  async headDigest(ref: ImageReference): Promise<string> {
    const res = await this.send(ref, {
      method: 'HEAD',
      url: `/v2/${ref.repository}/manifests/${ref.identifier()}`,
      headers: { accept: MANIFEST_MEDIA_TYPES.join(', ') },
      scope: { repository: ref.repository, actions: ['pull'] },
    });
    if (!res.ok) throw await this.failure(res, `manifest ${ref.toString()}`);
    await discard(res);
    const header = res.headers.get('docker-content-digest');
    if (!header) return this.resolveDigest(ref);
    parseDigest(header);
    if (ref.digest && header !== ref.digest) {
      throw new SigilError(
        'DIGEST_MISMATCH',
        `manifest ${ref.toString()}: the registry serves it as ${header}`,
      );
    }
    return header;
  }

  /** PUT a manifest under a tag (or by digest when `ref` has one); returns its digest. */
  async putManifest(ref: ImageReference, bytes: Buffer, mediaType: string): Promise<string> {
    return (await this.putManifestWithResponse(ref, bytes, mediaType)).digest;
  }

  /**
   * Pushes a manifest that has a `subject` by digest. On a registry without the referrers
   * API (no `OCI-Subject` answer) it also maintains the fallback tag `<alg>-<hex>` index, as
   * the OCI distribution spec asks of clients. Returns the manifest's digest.
   */
  async pushReferrer(repo: ImageReference, bytes: Buffer, mediaType: string): Promise<string> {
    const { manifest } = parseManifest(bytes, mediaType);
    const subject = manifest.subject;
    if (!subject) throw new SigilError('INVALID_INPUT', 'a referrer manifest needs a subject');
    const digest = computeDigest(bytes);
    const target = new ImageReference(repo.registry, repo.repository, undefined, digest);
    const pushed = await this.putManifestWithResponse(target, bytes, mediaType);
    if (pushed.subjectHeader === subject.digest) return digest;
    const m = manifest as {
      artifactType?: string;
      config?: Descriptor;
      annotations?: Record<string, string>;
    };
    const artifactType = m.artifactType ?? m.config?.mediaType;
    await appendToFallbackIndex(this, repo, subject.digest, {
      mediaType,
      digest,
      size: bytes.length,
      ...(m.annotations ? { annotations: m.annotations } : {}),
      ...(artifactType ? { artifactType } : {}),
    });
    return digest;
  }

  /** PUT a manifest; the registry's `OCI-Subject` answer tells whether it indexed a referrer. */
  async putManifestWithResponse(
    ref: ImageReference,
    bytes: Buffer,
    mediaType: string,
    extraHeaders: Record<string, string> = {},
  ): Promise<{ digest: string; subjectHeader: string | null }> {
    if (bytes.length > this.maxManifestBytes)
      throw new SigilError('TOO_LARGE', `manifest larger than ${this.maxManifestBytes} bytes`);
    parseManifest(bytes, mediaType);
    const digest = computeDigest(bytes);
    if (ref.digest) assertDigest(bytes, ref.digest, 'manifest to push');
    const id = ref.digest ?? ref.tag ?? digest;
    const res = await this.send(ref, {
      method: 'PUT',
      url: `/v2/${ref.repository}/manifests/${id}`,
      headers: { ...extraHeaders, 'content-type': mediaType },
      body: bytes,
      scope: { repository: ref.repository, actions: ['pull', 'push'] },
    });
    if (res.status !== 201 && res.status !== 200 && res.status !== 202)
      throw await this.failure(res, `pushing manifest ${ref.toString()}`);
    await discard(res);
    const header = res.headers.get('docker-content-digest');
    if (header && header !== digest) {
      throw new SigilError(
        'REGISTRY_ERROR',
        `registry stored manifest ${ref.toString()} as ${header}, but its bytes hash to ${digest}`,
      );
    }
    return { digest, subjectHeader: res.headers.get('oci-subject') };
  }

  /** Size of a blob, or undefined when the repository does not have it. */
  async headBlob(repo: ImageReference, digest: string): Promise<number | undefined> {
    parseDigest(digest);
    const res = await this.send(repo, {
      method: 'HEAD',
      url: `/v2/${repo.repository}/blobs/${digest}`,
      scope: { repository: repo.repository, actions: ['pull'] },
    });
    if (res.status === 404) {
      await discard(res);
      return undefined;
    }
    if (!res.ok) throw await this.failure(res, `blob ${digest} in ${repo.context()}`);
    await discard(res);
    return Number(res.headers.get('content-length') ?? 0);
  }

  /** GET a blob into memory (≤ maxBytes, default 128 MiB) and check its digest. */
  async getBlob(repo: ImageReference, digest: string, opts: { maxBytes?: number } = {}): Promise<Buffer> {
    parseDigest(digest);
    const what = `blob ${digest} in ${repo.context()}`;
    const res = await this.send(repo, {
      method: 'GET',
      url: `/v2/${repo.repository}/blobs/${digest}`,
      scope: { repository: repo.repository, actions: ['pull'] },
    });
    if (!res.ok) throw await this.failure(res, what);
    const bytes = await readBounded(res, opts.maxBytes ?? this.maxBlobBytes, what);
    assertDigest(bytes, digest, what);
    return bytes;
  }

  /**
   * Uploads a blob unless the repository already has it: cross-repository mount when
   * `mountFrom` names a repository on the same registry, else a monolithic POST + PUT.
   */
  async putBlob(
    repo: ImageReference,
    bytes: Buffer,
    opts: { mediaType?: string; mountFrom?: string } = {},
  ): Promise<Descriptor> {
    const digest = computeDigest(bytes);
    const desc: Descriptor = {
      mediaType: opts.mediaType ?? 'application/octet-stream',
      digest,
      size: bytes.length,
    };
    if ((await this.headBlob(repo, digest)) !== undefined) return desc;
    const scope = { repository: repo.repository, actions: ['pull', 'push'] as Action[] };
    const query = opts.mountFrom
      ? `?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(opts.mountFrom)}`
      : '';
    const start = await this.send(repo, {
      method: 'POST',
      url: `/v2/${repo.repository}/blobs/uploads/${query}`,
      scope,
    });
    if (start.status === 201) {
      await discard(start);
      return desc;
    }
    if (start.status !== 202) throw await this.failure(start, `starting upload to ${repo.context()}`);
    await discard(start);
    const location = start.headers.get('location');
    if (!location)
      throw new SigilError('REGISTRY_ERROR', `registry gave no upload location for ${repo.context()}`);
    const url = new URL(location, `${this.baseUrl(repo.apiHost())}/v2/${repo.repository}/blobs/uploads/`);
    url.searchParams.set('digest', digest);
    const put = await this.send(repo, {
      method: 'PUT',
      url: url.toString(),
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
      scope,
    });
    if (put.status !== 201 && put.status !== 204 && put.status !== 200)
      throw await this.failure(put, `uploading blob ${digest} to ${repo.context()}`);
    await discard(put);
    return desc;
  }

  /** All tags of a repository (following `Link` pagination, bounded). */
  async listTags(repo: ImageReference, opts: { max?: number } = {}): Promise<string[]> {
    const max = opts.max ?? 10_000;
    const tags: string[] = [];
    let url: string | undefined = `/v2/${repo.repository}/tags/list`;
    for (let page = 0; url && page < MAX_TAG_PAGES && tags.length < max; page++) {
      const res = await this.send(repo, {
        method: 'GET',
        url,
        scope: { repository: repo.repository, actions: ['pull'] },
      });
      if (!res.ok) throw await this.failure(res, `tags of ${repo.context()}`);
      const doc = JSON.parse(
        (await readBounded(res, this.maxManifestBytes, `tags of ${repo.context()}`)).toString('utf8'),
      ) as {
        tags?: unknown;
      };
      if (Array.isArray(doc.tags)) for (const t of doc.tags) if (typeof t === 'string') tags.push(t);
      const link = res.headers.get('link');
      const next = link ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(link)?.[1] : undefined;
      url = next ? new URL(next, this.baseUrl(repo.apiHost())).toString() : undefined;
    }
    return tags.slice(0, max);
  }

  /**
   * Manifests whose `subject` is `ref`'s digest: the OCI 1.1 referrers API, or, on registries
   * without it, the fallback tag `<alg>-<hex>` holding an index. Empty index when there are none.
   */
  async referrers(ref: ImageReference, opts: { artifactType?: string } = {}): Promise<ImageIndex> {
    return (await this.referrersWithSource(ref, opts)).index;
  }

  /** Like referrers(), and says where the list came from. */
  referrersWithSource(
    ref: ImageReference,
    opts: { artifactType?: string } = {},
  ): Promise<{ index: ImageIndex; via: 'referrers-api' | 'fallback-tag' }> {
    return listReferrers(this, this.session, this.noReferrersApi, ref, opts);
  }

  /** Sends a request through the session (auth, redirects, transport). */
  private send(ref: ImageReference, spec: RequestSpec): Promise<RegistryResponse> {
    return this.session.send(ref, spec);
  }

  private failure(res: RegistryResponse, what: string): Promise<SigilError> {
    return registryFailure(res, what);
  }
}
