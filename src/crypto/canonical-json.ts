import canonicalizeImport from 'canonicalize';
import { SigilError } from '../errors/index.js';

// canonicalize ships CommonJS with a default export; normalise the interop shape once.
const canonicalizeFn = ((canonicalizeImport as unknown as { default?: unknown }).default ??
  canonicalizeImport) as (v: unknown) => string | undefined;

/** RFC 8785 (JCS) canonical JSON as UTF-8 bytes. */
export function canonicalJson(value: unknown): Buffer {
  const s = canonicalizeFn(value);
  if (s === undefined) throw new SigilError('INVALID_INPUT', 'value cannot be canonicalized');
  return Buffer.from(s, 'utf8');
}

export function canonicalJsonString(value: unknown): string {
  return canonicalJson(value).toString('utf8');
}
