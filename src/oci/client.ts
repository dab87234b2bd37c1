import { SigilError, isSigilError } from '../errors/index.js';
import { basicAuthorization, parseChallenge, type Challenge, type CredentialStore } from './auth.js';
import { discard, readBounded, registryErrorText } from './http.js';
import {
  assertDigest,
  computeDigest,
  MAX_ATTACHMENT_BYTES,
  MAX_MANIFEST_BYTES,
  parseManifest,
} from './manifest.js';
import {
  INDEX_MEDIA_TYPES,
  MANIFEST_MEDIA_TYPES,
  MEDIA_TYPES,
  type Descriptor,
  type ImageIndex,
  type Manifest,
} from './media-types.js';
import { ImageReference, isLoopbackRegistry, parseDigest } from './reference.js';
import { KeepAliveTransport, type RegistryResponse } from './transport.js';
import { appendToFallbackIndex } from './referrers.js';

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_REDIRECTS = 5;
const MAX_TOKEN_BYTES = 1024 * 1024;
const MAX_TAG_PAGES = 100;
const REFERRERS_API_MEMO_MS = 5 * 60 * 1000;

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

type Action = 'pull' | 'push';

interface RequestSpec {
  method: string;
  /** Absolute URL, or a path starting with /v2/ on the registry. */
  url: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** Repository and actions for bearer-token scope; none for /v2/. */
  scope?: { repository: string; actions: Action[] };
}

/**
 * A client for the OCI distribution API. It authenticates per registry (anonymous, basic,
 * bearer token from a `WWW-Authenticate` challenge), follows at most `maxRedirects`
 * redirects by hand and never sends credentials to an origin other than the registry's,
 * bounds every body it reads, and checks every digest it is given against the bytes.
 */
export class RegistryClient {
  private readonly creds: CredentialStore;
  private readonly insecure: Set<string>;
  private readonly timeoutMs: number;
  private readonly maxRedirects: number;
  readonly maxManifestBytes: number;
  readonly maxBlobBytes: number;
  private readonly userAgent: string;
  /** registry → 'basic' once a registry asked for basic auth. */
  private readonly basicRegistries = new Set<string>();
  /** `registry|scope` → bearer token. */
  private readonly tokens = new Map<string, { token: string; expires: number }>();
  /** `registry/repository` → until when it is taken to lack the referrers API (a 404/400/405 seen). */
  private readonly noReferrersApi = new Map<string, number>();
  /** Keep-alive connections, per client. */
  private readonly transport = new KeepAliveTransport();

  constructor(opts: RegistryClientOptions = {}) {
    this.creds = opts.credentials ?? (() => undefined);
    this.insecure = new Set((opts.insecureRegistries ?? []).map((r) => r.toLowerCase()));
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxRedirects = opts.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
    this.maxManifestBytes = opts.maxManifestBytes ?? MAX_MANIFEST_BYTES;
    this.maxBlobBytes = opts.maxBlobBytes ?? MAX_ATTACHMENT_BYTES;
    this.userAgent = opts.userAgent ?? 'sigil';
  }

  /** Plain HTTP is used only for loopback registries and those named insecure. */
  baseUrl(registryHost: string): string {
    const plain = isLoopbackRegistry(registryHost) || this.insecure.has(registryHost.toLowerCase());
    return `${plain ? 'http' : 'https'}://${registryHost}`;
  }

  private allowsPlainHttp(host: string): boolean {
    return isLoopbackRegistry(host) || this.insecure.has(host.toLowerCase());
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
  async referrersWithSource(
    ref: ImageReference,
    opts: { artifactType?: string } = {},
  ): Promise<{ index: ImageIndex; via: 'referrers-api' | 'fallback-tag' }> {
    if (!ref.digest) throw new SigilError('INVALID_REFERENCE', `referrers need a digest: ${ref.toString()}`);
    const query = opts.artifactType ? `?artifactType=${encodeURIComponent(opts.artifactType)}` : '';
    // A repository without the API is remembered for a while: it saves a request per image.
    const apiKey = `${ref.registry}/${ref.repository}`;
    const knownMissing = (this.noReferrersApi.get(apiKey) ?? 0) > Date.now();
    const res = knownMissing
      ? undefined
      : await this.send(ref, {
          method: 'GET',
          url: `/v2/${ref.repository}/referrers/${ref.digest}${query}`,
          headers: { accept: MEDIA_TYPES.ociIndex },
          scope: { repository: ref.repository, actions: ['pull'] },
        });
    let index: ImageIndex | undefined;
    let via: 'referrers-api' | 'fallback-tag' = 'referrers-api';
    const type = (res?.headers.get('content-type') ?? '').split(';')[0]!.trim();
    if (res && res.ok && INDEX_MEDIA_TYPES.includes(type)) {
      const bytes = await readBounded(res, this.maxManifestBytes, `referrers of ${ref.toString()}`);
      index = parseManifest(bytes, type).manifest as ImageIndex;
    } else if (!res || res.ok || res.status === 404 || res.status === 400 || res.status === 405) {
      if (res) {
        await discard(res);
        if (this.noReferrersApi.size > 1000) this.noReferrersApi.clear();
        this.noReferrersApi.set(apiKey, Date.now() + REFERRERS_API_MEMO_MS);
      }
      via = 'fallback-tag';
      const { algorithm, hex } = parseDigest(ref.digest);
      try {
        const got = await this.getManifest(
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
      throw await this.failure(res, `referrers of ${ref.toString()}`);
    }
    const manifests = (index?.manifests ?? []).filter(
      (d) => !opts.artifactType || d.artifactType === opts.artifactType,
    );
    return { index: { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests }, via };
  }

  // --- transport ---------------------------------------------------------------------------

  /** Sends a request, answering at most one auth challenge and following redirects by hand. */
  private async send(ref: ImageReference, spec: RequestSpec): Promise<RegistryResponse> {
    const host = ref.apiHost();
    const base = this.baseUrl(host);
    const url = new URL(spec.url, base);
    const registryOrigin = new URL(base).origin;
    let authorization = this.cachedAuthorization(ref.registry, spec.scope);
    let res = await this.fetchFollowing(url, spec, registryOrigin, authorization);
    if (res.status !== 401) return res;
    const header = res.headers.get('www-authenticate');
    await discard(res);
    const challenge = header ? parseChallenge(header) : undefined;
    if (!challenge)
      throw new SigilError(
        'UNAUTHENTICATED',
        `registry ${ref.registry} refused the request (401) without a usable challenge`,
      );
    authorization = await this.answerChallenge(ref.registry, challenge, spec.scope);
    res = await this.fetchFollowing(url, spec, registryOrigin, authorization);
    if (res.status === 401) {
      const text = await registryErrorText(res);
      throw new SigilError(
        'UNAUTHENTICATED',
        `registry ${ref.registry} rejected the credentials${text ? `: ${text}` : ''}`,
      );
    }
    return res;
  }

  private scopeKey(registry: string, scope: RequestSpec['scope']): string {
    return `${registry}|${scope ? `repository:${scope.repository}:${scope.actions.join(',')}` : ''}`;
  }

  private cachedAuthorization(registry: string, scope: RequestSpec['scope']): string | undefined {
    const token = this.tokens.get(this.scopeKey(registry, scope));
    if (token && token.expires > Date.now()) return `Bearer ${token.token}`;
    if (this.basicRegistries.has(registry)) {
      const c = this.creds(registry);
      if (c) return basicAuthorization(c);
    }
    return undefined;
  }

  private async answerChallenge(
    registry: string,
    ch: Challenge,
    scope: RequestSpec['scope'],
  ): Promise<string> {
    const creds = this.creds(registry);
    if (ch.scheme === 'basic') {
      if (!creds)
        throw new SigilError(
          'UNAUTHENTICATED',
          `registry ${registry} requires credentials (basic auth); none are configured for it`,
        );
      this.basicRegistries.add(registry);
      return basicAuthorization(creds);
    }
    if (ch.scheme !== 'bearer')
      throw new SigilError(
        'UNAUTHENTICATED',
        `registry ${registry} asks for unsupported auth scheme ${ch.scheme}`,
      );
    const realm = ch.params.realm;
    if (!realm)
      throw new SigilError('UNAUTHENTICATED', `registry ${registry} sent a bearer challenge without a realm`);
    let realmUrl: URL;
    try {
      realmUrl = new URL(realm);
    } catch {
      throw new SigilError('UNAUTHENTICATED', `registry ${registry} sent an invalid token realm`);
    }
    if (
      realmUrl.protocol !== 'https:' &&
      !(realmUrl.protocol === 'http:' && this.allowsPlainHttp(realmUrl.host))
    ) {
      throw new SigilError('UNAUTHENTICATED', `refusing token realm ${realmUrl.origin}: not https`);
    }
    const scopes = new Set<string>();
    if (scope) scopes.add(`repository:${scope.repository}:${scope.actions.join(',')}`);
    if (ch.params.scope) for (const s of ch.params.scope.split(' ')) if (s) scopes.add(s);
    if (ch.params.service) realmUrl.searchParams.set('service', ch.params.service);
    for (const s of scopes) realmUrl.searchParams.append('scope', s);
    // Credentials go to the realm the registry named: that is the token protocol (docker does the same).
    const res = await this.fetchFollowing(
      realmUrl,
      { method: 'GET', url: realmUrl.toString() },
      realmUrl.origin,
      creds ? basicAuthorization(creds) : undefined,
    );
    if (!res.ok) {
      const text = await registryErrorText(res);
      throw new SigilError(
        'UNAUTHENTICATED',
        `token server for ${registry} refused (${res.status})${text ? `: ${text}` : ''}`,
      );
    }
    let doc: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      doc = JSON.parse(
        (await readBounded(res, MAX_TOKEN_BYTES, 'token response')).toString('utf8'),
      ) as typeof doc;
    } catch (e) {
      if (isSigilError(e)) throw e;
      throw new SigilError('UNAUTHENTICATED', `token server for ${registry} sent invalid JSON`);
    }
    const token =
      typeof doc.token === 'string'
        ? doc.token
        : typeof doc.access_token === 'string'
          ? doc.access_token
          : undefined;
    if (!token) throw new SigilError('UNAUTHENTICATED', `token server for ${registry} sent no token`);
    const ttl = typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : 60;
    this.tokens.set(this.scopeKey(registry, scope), {
      token,
      expires: Date.now() + Math.max(ttl - 10, 5) * 1000,
    });
    return `Bearer ${token}`;
  }

  /**
   * One logical request: redirects are followed by hand (at most maxRedirects), the
   * Authorization header is sent only to `authOrigin`, and https never downgrades to http
   * except towards hosts allowed plain HTTP.
   */
  private async fetchFollowing(
    start: URL,
    spec: RequestSpec,
    authOrigin: string,
    authorization: string | undefined,
  ): Promise<RegistryResponse> {
    let url = start;
    let method = spec.method;
    let body = spec.body;
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { 'user-agent': this.userAgent, ...(spec.headers ?? {}) };
      if (authorization && url.origin === authOrigin) headers.authorization = authorization;
      if (body === undefined) delete headers['content-type'];
      let res: RegistryResponse;
      try {
        res = await this.transport.request({
          method,
          url,
          headers,
          ...(body === undefined ? {} : { body }),
          timeoutMs: this.timeoutMs,
        });
      } catch (e) {
        const err = e as Error;
        const why =
          err.name === 'TimeoutError' || err.name === 'AbortError'
            ? `timed out after ${this.timeoutMs} ms`
            : describeCause(err);
        throw new SigilError('REGISTRY_ERROR', `registry ${url.host} is unreachable: ${why}`, { cause: e });
      }
      if (res.status < 300 || res.status >= 400 || res.status === 304) return res;
      const location = res.headers.get('location');
      await discard(res);
      if (!location)
        throw new SigilError(
          'REGISTRY_ERROR',
          `registry ${url.host} answered ${res.status} without a Location`,
        );
      if (hop >= this.maxRedirects)
        throw new SigilError('REGISTRY_ERROR', `more than ${this.maxRedirects} redirects from ${start.host}`);
      const next = new URL(location, url);
      if (next.protocol !== 'https:' && next.protocol !== 'http:')
        throw new SigilError('REGISTRY_ERROR', `redirect to unsupported scheme ${next.protocol}`);
      if (next.protocol === 'http:' && url.protocol === 'https:' && !this.allowsPlainHttp(next.host)) {
        throw new SigilError('REGISTRY_ERROR', `refusing redirect from https to plain http (${next.host})`);
      }
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
      }
      url = next;
    }
  }

  private async failure(res: RegistryResponse, what: string): Promise<SigilError> {
    const e = await this.statusError(res, what);
    answered.add(e);
    return e;
  }

  private async statusError(res: RegistryResponse, what: string): Promise<SigilError> {
    const text = await registryErrorText(res);
    const detail = text ? ` (${text})` : '';
    switch (res.status) {
      case 404:
        return new SigilError('NOT_FOUND', `${what} not found${detail}`);
      case 401:
      case 403:
        return new SigilError('UNAUTHENTICATED', `${what}: access denied (${res.status})${detail}`);
      case 413:
        return new SigilError('TOO_LARGE', `${what}: the registry says the content is too large${detail}`);
      default:
        return new SigilError('REGISTRY_ERROR', `${what}: registry answered ${res.status}${detail}`);
    }
  }
}

const answered = new WeakSet<SigilError>();

/**
 * True for an error the registry answered with (an HTTP error status), as opposed to one where
 * it could not be reached or did not answer in time. Admission treats the former as the image's
 * failure, as Kyverno does (only network errors and deadlines are rule errors there).
 */
export function isRegistryAnswer(e: unknown): boolean {
  return e instanceof SigilError && answered.has(e);
}

function describeCause(e: Error): string {
  const own = (e as NodeJS.ErrnoException).code;
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return own ?? cause?.code ?? cause?.message ?? e.message;
}
