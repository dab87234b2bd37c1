import { invalid } from '../policy/fields.js';
import type { Wildcard } from '../policy/types.js';
import { compileImagePattern } from '../policy/image-pattern.js';
import { compileWildcard } from '../policy/wildcard.js';

/**
 * `matchImageReferences[].glob`: Kyverno compiles it with gobwas/glob and no separators, so `*`
 * crosses `/` (`ghcr.io/*` matches `ghcr.io/kyverno/kyverno`) and `?` is one character; the
 * image is matched as written in the object, not normalized. Character classes and `{a,b}`
 * alternatives are refused rather than read as literals.
 */
export function compileGlob(pattern: string, path: string): Wildcard {
  if (/[[\]{}\\]/.test(pattern))
    throw invalid(path, 'glob character classes, alternatives and escapes are not supported (use * and ?)');
  compileImagePattern(pattern, path); // refuses an upper-case registry host (it would match nothing)
  return compileWildcard(pattern, path);
}
