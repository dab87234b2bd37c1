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
  let src = '^';
  let lastStar = false;
  for (const ch of pattern) {
    if (ch === '*') {
      // Collapse runs of `*`: they mean the same and would only cost backtracking.
      if (!lastStar) src += '[\\s\\S]*';
      lastStar = true;
      continue;
    }
    lastStar = false;
    src += ch === '?' ? '[\\s\\S]' : ch.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
  }
  return { pattern, regex: new RegExp(`${src}$`, 'u') };
}

export function wildcardMatches(w: Wildcard, value: string): boolean {
  return w.regex.test(value);
}

export function anyWildcardMatches(list: readonly Wildcard[], value: string): Wildcard | undefined {
  return list.find((w) => w.regex.test(value));
}
