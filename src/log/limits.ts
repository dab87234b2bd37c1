import { SigilError } from '../errors/index.js';
import type { AppendOptions } from './types.js';

/** The log's input bounds: one home for the sequencer and the replicas that forward to it. */
export const MAX_GET_ENTRIES = 1000;
export const DEFAULT_INDEX_LOOKUP_LIMIT = 100;
export const MAX_INDEX_LOOKUP_LIMIT = 1000;
export const MAX_LEAF_BYTES = 16 * 1024 * 1024;
export const MAX_INDEX_KEYS = 64;
export const MAX_INDEX_KEY_LENGTH = 1024;

export function isIndex(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

/** Why an append is refused before it is queued (INVALID_INPUT, TOO_LARGE), or undefined. */
export function checkAppend(leaf: unknown, opts: AppendOptions | undefined): SigilError | undefined {
  if (!(leaf instanceof Uint8Array)) return new SigilError('INVALID_INPUT', 'leaf must be bytes');
  if (leaf.length > MAX_LEAF_BYTES)
    return new SigilError('TOO_LARGE', `leaf of ${leaf.length} bytes exceeds ${MAX_LEAF_BYTES}`);
  const keys = opts?.indexKeys ?? [];
  if (keys.length > MAX_INDEX_KEYS)
    return new SigilError('INVALID_INPUT', `more than ${MAX_INDEX_KEYS} index keys`);
  for (const k of keys) {
    if (typeof k !== 'string' || k.length === 0 || k.length > MAX_INDEX_KEY_LENGTH) {
      return new SigilError('INVALID_INPUT', 'index keys must be non-empty strings of bounded length');
    }
  }
  return undefined;
}
