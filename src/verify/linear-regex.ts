import { setFlagsFromString } from 'node:v8';

/** V8's linear-engine flag; a variable because linters only know the standard flags. */
const LINEAR_FLAG = 'l';
let linear: boolean | undefined;

/** V8's linear-time regexp engine (the `l` flag), switched on once; false where this V8 lacks it. */
function linearEngine(): boolean {
  if (linear === undefined) {
    try {
      setFlagsFromString('--enable-experimental-regexp_engine');
      linear = new RegExp('a', LINEAR_FLAG).test('a');
    } catch {
      linear = false;
    }
  }
  return linear;
}

/**
 * Compiles an identity pattern (RE2's language, as Kyverno and cosign use) for V8's linear-time
 * engine, so no subject — which a signer partly chooses — can make matching backtrack
 * exponentially (`^(a+)+$` against 27 `a`s and a `!` takes ~18 s on the backtracking engine).
 * Throws SyntaxError for patterns that cannot run in linear time (back-references,
 * look-around, very large counted repetitions). Without the linear engine, falls back to `u`.
 * `ignoreCase` matches letters in either case: the linear engine refuses the `i` flag, so the
 * pattern's letters are spelled out as classes (`a` → `[aA]`) instead.
 */
export function compileLinearRegExp(source: string, opts: { ignoreCase?: boolean } = {}): RegExp {
  if (!linearEngine()) return new RegExp(source, opts.ignoreCase ? 'iu' : 'u');
  return new RegExp(opts.ignoreCase ? foldCase(source) : source, LINEAR_FLAG);
}

/** The other case of a letter, or undefined for characters without one. */
function otherCase(ch: string): string | undefined {
  const lower = ch.toLowerCase();
  const upper = ch.toUpperCase();
  if (lower === upper || lower.length !== 1 || upper.length !== 1) return undefined;
  return ch === lower ? upper : lower;
}

/** Length of the escape starting at `i` (a backslash), so its letters are copied as they are. */
function escapeLength(source: string, i: number): number {
  const c = source[i + 1];
  if (c === 'x') return 4;
  if (c === 'c') return 3;
  if (c === 'u' || c === 'p' || c === 'P') {
    if (source[i + 2] === '{') {
      const end = source.indexOf('}', i + 3);
      return end < 0 ? 2 : end - i + 1;
    }
    return c === 'u' ? 6 : 2;
  }
  return 2;
}

/** The ASCII letters of [lo, hi] in the other case, as class ranges. */
function foldedRanges(lo: number, hi: number): string {
  let out = '';
  for (const [a, z, shift] of [
    [0x41, 0x5a, 0x20],
    [0x61, 0x7a, -0x20],
  ] as const) {
    const from = Math.max(lo, a);
    const to = Math.min(hi, z);
    if (from <= to) out += `${String.fromCharCode(from + shift)}-${String.fromCharCode(to + shift)}`;
  }
  return out;
}

/** Rewrites a pattern so each letter matches in either case: the `i` flag, spelled out. */
function foldCase(source: string): string {
  let out = '';
  let inClass = false;
  let extra = '';
  for (let i = 0; i < source.length; i++) {
    const ch = source[i]!;
    if (ch === '\\') {
      const n = escapeLength(source, i);
      out += source.slice(i, i + n);
      i += n - 1;
    } else if (inClass) {
      if (ch === ']') {
        out += extra + ch;
        inClass = false;
      } else if (
        source[i + 1] === '-' &&
        source[i + 2] !== undefined &&
        source[i + 2] !== ']' &&
        source[i + 2] !== '\\'
      ) {
        extra += foldedRanges(ch.charCodeAt(0), source.charCodeAt(i + 2));
        out += source.slice(i, i + 3);
        i += 2;
      } else {
        out += ch;
        extra += otherCase(ch) ?? '';
      }
    } else if (ch === '[') {
      inClass = true;
      extra = '';
      out += ch;
      if (source[i + 1] === '^') out += source[++i];
      if (source[i + 1] === ']') out += source[++i];
    } else if (ch === '(' && source.startsWith('(?<', i) && !/^\(\?<[=!]/.test(source.slice(i, i + 4))) {
      const end = source.indexOf('>', i);
      const n = end < 0 ? 1 : end - i + 1;
      out += source.slice(i, i + n);
      i += n - 1;
    } else {
      const other = otherCase(ch);
      out += other === undefined ? ch : `[${ch}${other}]`;
    }
  }
  return out;
}
