import type { ImageReference } from '../../oci/index.js';
import { invalid } from './fields.js';
import type { Wildcard } from './types.js';
import { compileWildcard } from './wildcard.js';

/** Names of Docker Hub that pull the same content as `docker.io`. */
const DOCKER_HUB_ALIASES = new Set(['registry-1.docker.io', 'index.docker.io']);

/** One spelling per registry: Docker Hub aliases → docker.io, the default HTTPS port :443 dropped. */
export function canonicalRegistry(host: string): string {
  const h = host.endsWith(':443') ? host.slice(0, -4) : host;
  return DOCKER_HUB_ALIASES.has(h) ? 'docker.io' : h;
}

const looksLikeHost = (s: string): boolean => s.includes('.') || s.includes(':') || s === 'localhost';

/**
 * An imageReferences / skipImageReferences pattern. Its registry host, when written out without
 * wildcards, is put in the canonical spelling the images are matched in; a host with upper-case
 * letters is refused (references are matched lower-cased, so it would match nothing).
 */
export function compileImagePattern(pattern: string, what: string): Wildcard {
  const w = compileWildcard(pattern, what);
  const slash = w.pattern.indexOf('/');
  if (slash <= 0) return w;
  const host = w.pattern.slice(0, slash);
  if (!looksLikeHost(host)) return w;
  if (host !== host.toLowerCase())
    throw invalid(
      what,
      `registry host ${host} has upper-case letters: image references are lower-case, so it would match nothing`,
    );
  if (/[*?]/.test(host)) return w;
  return { pattern: `${canonicalRegistry(host)}${w.pattern.slice(slash)}` };
}

/**
 * The strings an image is matched against, as Kyverno's ImageInfo.String(): `repo@digest` when a
 * digest is present (the runtime ignores the tag then), else `repo:tag`. `tagged` is the
 * `repo:tag` form of a reference that has both: imageReferences also match on it (a pinned
 * `app:v1@sha256:…` stays under an `app:v1` rule, so it is verified rather than passed over),
 * skipImageReferences never do (a made-up tag must not skip an unsigned digest).
 */
export function matchForms(ref: ImageReference): { primary: string; tagged?: string } {
  const repo = `${canonicalRegistry(ref.registry)}/${ref.repository}`;
  if (!ref.digest) return { primary: `${repo}:${ref.tag ?? 'latest'}` };
  return { primary: `${repo}@${ref.digest}`, ...(ref.tag ? { tagged: `${repo}:${ref.tag}` } : {}) };
}
