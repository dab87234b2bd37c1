import { type Doc, invalid } from './fields.js';

/**
 * Fail closed on what is not understood: a field sigil does not know is refused with
 * INVALID_POLICY naming it, never skipped (a skipped condition makes a rule silently wider or
 * narrower than the one the admin wrote). Fields sigil knows but does not evaluate are refused
 * where they are read, with the reason.
 */
export function refuseUnknown(d: Doc, path: string, known: readonly string[]): void {
  for (const key of Object.keys(d)) {
    if (!known.includes(key))
      throw invalid(`${path}.${key}`, 'is not a field sigil evaluates (refused rather than ignored)');
  }
}

/** A field that is known but not evaluated: refused when set to anything but null/empty. */
export function refuseSet(d: Doc, key: string, path: string, why: string): void {
  const v = d[key];
  if (v === undefined || v === null) return;
  if (Array.isArray(v) && v.length === 0) return;
  if (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0) return;
  throw invalid(`${path}.${key}`, why);
}
