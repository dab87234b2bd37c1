import { parseReference } from '../../oci/index.js';
import { invalid } from '../policy/fields.js';
import type { Wildcard } from '../policy/types.js';
import { canonicalRegistry, compileImagePattern } from '../policy/image-pattern.js';
import { compileWildcard, wildcardMatches } from '../policy/wildcard.js';

/**
 * `matchImageReferences[].glob`. Kyverno (pkg/cel/compiler: gobwas `glob.Compile` without
 * separators, matched in pkg/cel/matching against the image string as the object writes it)
 * lets `*` cross `/` (`ghcr.io/*` matches `ghcr.io/kyverno/kyverno`), `?` is one character,
 * and nothing is normalized: a glob `ghcr.io/org/*` does not match `ghcr.io:443/org/app`, and
 * `docker.io/org/*` does not match `org/app`, `index.docker.io/org/app` or
 * `registry-1.docker.io/org/app`, though each pulls the same image. An image outside every glob
 * is left out of `images` and verifyImageSignatures passes over it, so such a spelling would be
 * admitted unverified. sigil fails closed instead: a glob matches whatever Kyverno's matches,
 * and also the image's other spellings of the same reference (matchingForms), against the glob
 * as written and in its canonical spelling. An image that does not parse matches every glob (it
 * cannot be matched reliably; its verification then fails). Character classes and `{a,b}`
 * alternatives are refused rather than read as literals.
 */
export interface IvpGlob extends Wildcard {
  /** The glob's other spellings: registry canonical, Docker Hub's implied `docker.io[/library]`. */
  readonly canonical: readonly Wildcard[];
}

const looksLikeHost = (s: string): boolean => s.includes('.') || s.includes(':') || s === 'localhost';
const WILD = /[*?]/;

function canonicalGlobs(pattern: string): string[] {
  const slash = pattern.indexOf('/');
  const first = slash > 0 ? pattern.slice(0, slash) : '';
  const out: string[] = [];
  if (first && looksLikeHost(first)) {
    if (WILD.test(first)) return [];
    const host = canonicalRegistry(first);
    const rest = pattern.slice(slash + 1);
    out.push(`${host}/${rest}`);
    if (host === 'docker.io' && !rest.includes('/')) out.push(`docker.io/library/${rest}`);
  } else {
    // No registry host: a Docker Hub name, as the runtime reads it.
    out.push(`docker.io/${pattern}`);
    if (!pattern.includes('/')) out.push(`docker.io/library/${pattern}`);
  }
  return out.filter((g) => g !== pattern);
}

export function compileGlob(pattern: string, path: string): IvpGlob {
  if (/[[\]{}\\]/.test(pattern))
    throw invalid(path, 'glob character classes, alternatives and escapes are not supported (use * and ?)');
  compileImagePattern(pattern, path); // refuses an upper-case registry host (it would match nothing)
  const w = compileWildcard(pattern, path);
  return { pattern: w.pattern, canonical: canonicalGlobs(w.pattern).map((g) => ({ pattern: g })) };
}

/**
 * The spellings of one image reference a glob is matched against: as written, then the
 * canonical name (Docker Hub aliases → `docker.io`, `library/` filled in, `:443` dropped) with
 * digest first (`repo@digest`: the runtime pulls the digest), with its tag (`repo:tag`, and
 * `repo:tag@digest` when both are written), and `repo` / `repo:latest` for an untagged name.
 * Never another tag or digest than the one written. Undefined when the image does not parse.
 */
export function matchingForms(image: string): string[] | undefined {
  let ref;
  try {
    ref = parseReference(image);
  } catch {
    return undefined;
  }
  const host = canonicalRegistry(ref.registry);
  // `registry-1.docker.io/nginx` is `docker.io/library/nginx` (the parser fills in `library/`
  // only for the names it reads as Docker Hub).
  const path =
    host === 'docker.io' && !ref.repository.includes('/') ? `library/${ref.repository}` : ref.repository;
  const repo = `${host}/${path}`;
  const forms = [image];
  if (ref.digest) {
    forms.push(`${repo}@${ref.digest}`);
    if (ref.tag) forms.push(`${repo}:${ref.tag}`, `${repo}:${ref.tag}@${ref.digest}`);
  } else {
    const tag = ref.tag ?? 'latest';
    forms.push(`${repo}:${tag}`);
    if (tag === 'latest') forms.push(repo);
  }
  return [...new Set(forms)];
}

/** Does `g` match any of `forms` (matchingForms of one image)? */
export function globMatches(g: IvpGlob, forms: readonly string[]): boolean {
  for (const f of forms) {
    if (wildcardMatches(g, f)) return true;
    for (const c of g.canonical) if (wildcardMatches(c, f)) return true;
  }
  return false;
}
