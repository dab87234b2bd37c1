import { SigilError } from '../errors/index.js';

/** Docker Hub's canonical name, the registry used when a reference names none. */
export const DOCKER_HUB = 'docker.io';
/** Where Docker Hub's distribution API actually lives. */
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';
/** The registry name cosign writes into `docker-reference` for Docker Hub images. */
export const DOCKER_HUB_INDEX = 'index.docker.io';
export const DEFAULT_TAG = 'latest';
/** distribution/reference: the whole name (registry + repository) is at most 255 characters. */
export const MAX_NAME_LENGTH = 255;
export const MAX_REFERENCE_LENGTH = 1024;

const DIGEST_HEX_LENGTH: Record<string, number> = { sha256: 64, sha512: 128 };

// distribution/reference grammar, anchored; lowercase repository components only.
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_RE = new RegExp(
  `^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]{1,5})?$`,
);
const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_RE = /^([a-z0-9]+):([0-9a-f]+)$/;

function invalid(input: string, why: string): SigilError {
  const shown = input.length > 120 ? `${input.slice(0, 120)}…` : input;
  return new SigilError('INVALID_REFERENCE', `invalid image reference ${JSON.stringify(shown)}: ${why}`);
}

/** Validates `alg:hex` (sha256 with 64, sha512 with 128 lowercase hex digits) and returns it. */
export function parseDigest(digest: string): { algorithm: 'sha256' | 'sha512'; hex: string } {
  const m = DIGEST_RE.exec(digest);
  if (!m)
    throw new SigilError(
      'INVALID_REFERENCE',
      `invalid digest ${JSON.stringify(digest.slice(0, 200))}: want <alg>:<lowercase hex>`,
    );
  const [, alg, hex] = m as unknown as [string, string, string];
  const want = DIGEST_HEX_LENGTH[alg];
  if (want === undefined)
    throw new SigilError(
      'INVALID_REFERENCE',
      `unsupported digest algorithm ${JSON.stringify(alg)} (sha256 or sha512)`,
    );
  if (hex.length !== want)
    throw new SigilError(
      'INVALID_REFERENCE',
      `${alg} digest must have ${want} hex digits, got ${hex.length}`,
    );
  return { algorithm: alg as 'sha256' | 'sha512', hex };
}

export function isDigest(s: string): boolean {
  try {
    parseDigest(s);
    return true;
  } catch {
    return false;
  }
}

/** A normalized image reference: `registry/repository[:tag][@digest]`. Immutable. */
export class ImageReference {
  constructor(
    /** `docker.io`, `ghcr.io`, `localhost:5000`, `127.0.0.1:5000`, `[::1]:5000`. Lowercase. */
    readonly registry: string,
    /** `library/nginx`, `org/app`. */
    readonly repository: string,
    readonly tag?: string,
    /** `sha256:<hex>` or `sha512:<hex>`. */
    readonly digest?: string,
  ) {}

  /** `registry/repository`: what cosign calls the reference's context. */
  context(): string {
    return `${this.registry}/${this.repository}`;
  }

  /** The fully qualified form; `:latest` is implied when neither tag nor digest was given. */
  toString(): string {
    const tag = this.tag ?? (this.digest ? undefined : DEFAULT_TAG);
    return `${this.context()}${tag ? `:${tag}` : ''}${this.digest ? `@${this.digest}` : ''}`;
  }

  /** The manifest identifier to ask the registry for: the digest when pinned, else the tag. */
  identifier(): string {
    return this.digest ?? this.tag ?? DEFAULT_TAG;
  }

  withDigest(digest: string): ImageReference {
    parseDigest(digest);
    return new ImageReference(this.registry, this.repository, this.tag, digest);
  }

  /** Same repository, this tag, no digest. */
  withTag(tag: string): ImageReference {
    if (!TAG_RE.test(tag)) throw invalid(tag, 'tag must match [\\w][\\w.-]{0,127}');
    return new ImageReference(this.registry, this.repository, tag, undefined);
  }

  /** Host[:port] that serves the distribution API (`registry-1.docker.io` for Docker Hub). */
  apiHost(): string {
    return this.registry === DOCKER_HUB ? DOCKER_HUB_API_HOST : this.registry;
  }

  /** The repository as cosign's simple-signing `docker-reference` names it (no tag or digest). */
  dockerReference(): string {
    return `${this.registry === DOCKER_HUB ? DOCKER_HUB_INDEX : this.registry}/${this.repository}`;
  }
}

function looksLikeRegistry(first: string): boolean {
  return first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase();
}

/**
 * Parses and normalizes an image reference the way distribution/reference does:
 * a first path component with `.`, `:` or `localhost` (or uppercase) is a registry, otherwise
 * the registry is docker.io; single-component Docker Hub names get `library/`;
 * `index.docker.io` becomes `docker.io`. Tag and digest may both be present.
 */
export function parseReference(input: string): ImageReference {
  if (typeof input !== 'string' || input.length === 0) throw invalid(String(input), 'empty reference');
  if (input.length > MAX_REFERENCE_LENGTH)
    throw invalid(input, `longer than ${MAX_REFERENCE_LENGTH} characters`);
  if (/\s/.test(input)) throw invalid(input, 'contains whitespace');
  if (input.includes('://'))
    throw invalid(input, 'must not include a scheme (write registry/repository:tag)');

  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    try {
      parseDigest(digest);
    } catch (e) {
      throw invalid(input, (e as Error).message);
    }
  }

  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > lastSlash) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG_RE.test(tag))
      throw invalid(input, 'tag must be 1-128 characters of [A-Za-z0-9_.-], not starting with . or -');
  }
  if (rest.length === 0) throw invalid(input, 'missing repository name');

  let registry = DOCKER_HUB;
  let repository = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0 && looksLikeRegistry(rest.slice(0, slash))) {
    registry = rest.slice(0, slash);
    repository = rest.slice(slash + 1);
    if (!DOMAIN_RE.test(registry)) throw invalid(input, `invalid registry host ${JSON.stringify(registry)}`);
    const port = /:(\d+)$/.exec(registry);
    if (port && Number(port[1]) > 65535) throw invalid(input, 'registry port out of range');
    registry = registry.toLowerCase();
    if (registry === DOCKER_HUB_INDEX) registry = DOCKER_HUB;
  }
  if (repository.length === 0) throw invalid(input, 'missing repository name');
  if (repository !== repository.toLowerCase()) throw invalid(input, 'repository name must be lowercase');
  for (const comp of repository.split('/')) {
    if (!PATH_COMPONENT_RE.test(comp)) {
      throw invalid(
        input,
        `invalid repository component ${JSON.stringify(comp)} (lowercase letters, digits, separators . _ __ -)`,
      );
    }
  }
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  if (`${registry}/${repository}`.length > MAX_NAME_LENGTH)
    throw invalid(input, `name longer than ${MAX_NAME_LENGTH} characters`);
  return new ImageReference(registry, repository, tag, digest);
}

/** A repository path (`org/app`) by distribution's rules: lowercase components, ≤ 255 characters. */
export function isValidRepository(name: string): boolean {
  return (
    name.length > 0 &&
    name.length <= MAX_NAME_LENGTH &&
    name.split('/').every((c) => PATH_COMPONENT_RE.test(c))
  );
}

export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

/** Is this registry host on the loopback interface (plain HTTP is allowed there)? */
export function isLoopbackRegistry(registry: string): boolean {
  const r = registry.toLowerCase();
  const host = r.startsWith('[')
    ? r.slice(1, r.indexOf(']'))
    : r.split(':').length > 2
      ? r
      : r.replace(/:\d+$/, '');
  if (host === 'localhost' || host === '::1') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
