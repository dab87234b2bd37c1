import { SigilError } from '../../errors/index.js';
import { POLICY_LIMITS, type Wildcard } from './types.js';

/**
 * Kyverno's image wildcard (go-wildcard): `*` matches any run of characters — including `/`
 * and `:`, so `ghcr.io/org/*` also matches `ghcr.io/org/team/app:1` — and `?` matches exactly
 * one character. Everything else, `.` included, is literal. Matching is case-sensitive and
 * anchored at both ends.
 */
export function compileWildcard(pattern: string, what = 'pattern'): Wildcard {
  if (pattern.length === 0) throw new SigilError('INVALID_POLICY', `${what} is empty`);
  if (pattern.length > POLICY_LIMITS.maxPatternLength) {
    throw new SigilError(
      'INVALID_POLICY',
      `${what} is longer than ${POLICY_LIMITS.maxPatternLength} characters`,
    );
  }
  return { pattern: pattern.replace(/\*{2,}/g, '*') };
}

/**
 * Iterative glob match that backtracks only to the last `*` seen, so it runs in
 * O(pattern × value) time whatever the pattern (a regex translation can go exponential).
 */
export function wildcardMatches(w: Wildcard, value: string): boolean {
  const p = w.pattern;
  let pi = 0;
  let vi = 0;
  let star = -1;
  let mark = 0;
  while (vi < value.length) {
    const c = p[pi];
    if (c === '*') {
      star = pi++;
      mark = vi;
    } else if (c !== undefined && (c === '?' || c === value[vi])) {
      pi++;
      vi++;
    } else if (star >= 0) {
      pi = star + 1;
      vi = ++mark;
    } else return false;
  }
  while (p[pi] === '*') pi++;
  return pi === p.length;
}

export function anyWildcardMatches(list: readonly Wildcard[], value: string): Wildcard | undefined {
  return list.find((w) => wildcardMatches(w, value));
}
