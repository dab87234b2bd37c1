import { SigilError } from '../errors/index.js';
import type { JsonPatchOp } from './decision.js';

function unescape(seg: string): string {
  return seg.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** Applies `replace` operations (what the webhook emits) to a deep copy of `object`. */
export function applyJsonPatch<T>(object: T, ops: readonly JsonPatchOp[]): T {
  const copy = structuredClone(object);
  for (const op of ops) {
    const segs = op.path.split('/').slice(1).map(unescape);
    const last = segs.pop();
    let cur: unknown = copy;
    for (const s of segs)
      cur = typeof cur === 'object' && cur !== null ? (cur as Record<string, unknown>)[s] : undefined;
    if (last === undefined || typeof cur !== 'object' || cur === null || !(last in cur)) {
      throw new SigilError('INVALID_INPUT', `JSON Patch path ${op.path} does not exist`);
    }
    (cur as Record<string, unknown>)[last] = op.value;
  }
  return copy;
}
