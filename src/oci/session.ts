import { SigilError, isSigilError } from '../errors/index.js';
import { basicAuthorization, parseChallenge, type Challenge, type CredentialStore } from './auth.js';
import { discard, readBounded, registryErrorText } from './http.js';
import { isLoopbackRegistry, type ImageReference } from './reference.js';
import { KeepAliveTransport, type RegistryResponse } from './transport.js';

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_REDIRECTS = 5;
const MAX_TOKEN_BYTES = 1024 * 1024;

export type Action = 'pull' | 'push';

export interface RequestSpec {
  method: string;
  /** Absolute URL, or a path starting with /v2/ on the registry. */
  url: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** Repository and actions for bearer-token scope; none for /v2/. */
  scope?: { repository: string; actions: Action[] };
}

export interface SessionOptions {
  credentials?: CredentialStore;
  insecureRegistries?: readonly string[];
  timeoutMs?: number;
  maxRedirects?: number;
  userAgent?: string;
}

/**
 * How a registry client talks to registries: plain HTTP only to loopback and named-insecure
 * hosts, one auth challenge answered per request (basic, or a bearer token cached per scope),
 * redirects followed by hand, credentials only to the registry's origin, no https→http downgrade.
 */
export class RegistrySession {
  private readonly creds: CredentialStore;
  private readonly insecure: Set<string>;
  readonly timeoutMs: number;
  private readonly maxRedirects: number;
  private readonly userAgent: string;
  /** registry → 'basic' once a registry asked for basic auth. */
  private readonly basicRegistries = new Set<string>();
  /** `registry|scope` → bearer token. */
  private readonly tokens = new Map<string, { token: string; expires: number }>();
  /** Keep-alive connections, per client. */
  private readonly transport = new KeepAliveTransport();

  constructor(opts: SessionOptions = {}) {
    this.creds = opts.credentials ?? (() => undefined);
    this.insecure = new Set((opts.insecureRegistries ?? []).map((r) => r.toLowerCase()));
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxRedirects = opts.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
    this.userAgent = opts.userAgent ?? 'sigil';
  }

  /** Plain HTTP is used only for loopback registries and those named insecure. */
  baseUrl(registryHost: string): string {
    return `${this.allowsPlainHttp(registryHost) ? 'http' : 'https'}://${registryHost}`;
  }

  private allowsPlainHttp(host: string): boolean {
    return isLoopbackRegistry(host) || this.insecure.has(host.toLowerCase());
  }

  /** Sends a request, answering at most one auth challenge and following redirects by hand. */
  async send(ref: ImageReference, spec: RequestSpec): Promise<RegistryResponse> {
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
}

function describeCause(e: Error): string {
  const own = (e as NodeJS.ErrnoException).code;
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return own ?? cause?.code ?? cause?.message ?? e.message;
}
