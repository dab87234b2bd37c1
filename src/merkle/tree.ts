import { EMPTY_ROOT, nodeHash, splitPoint } from './hash.js';

/**
 * Source of subtree hashes for a tree of leaf hashes. `hashRange(start, end)` returns
 * MTH(D[start:end]); implementations may answer from stored nodes instead of recomputing.
 */
export interface HashSource {
  hashRange(start: number, end: number): Uint8Array;
}

/** A HashSource over leaf hashes in memory (tests, small trees). */
export class InMemoryLeaves implements HashSource {
  constructor(private readonly leaves: readonly Uint8Array[]) {}
  hashRange(start: number, end: number): Uint8Array {
    return rootOf(this.leaves.slice(start, end));
  }
}

/** MTH over a list of leaf hashes. */
export function rootOf(leafHashes: readonly Uint8Array[]): Buffer {
  const n = leafHashes.length;
  if (n === 0) return EMPTY_ROOT;
  let level: Uint8Array[] = [...leafHashes];
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(nodeHash(level[i]!, level[i + 1]!));
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    level = next;
  }
  return Buffer.from(level[0]!);
}

/** RFC 6962 PATH(m, D[0:n]) as a list of hashes, leaf side first. */
export function inclusionProof(src: HashSource, index: number, size: number): Uint8Array[] {
  if (!(index >= 0 && index < size)) throw new RangeError(`index ${index} outside tree of size ${size}`);
  const out: Uint8Array[] = [];
  const walk = (m: number, start: number, end: number): void => {
    const n = end - start;
    if (n <= 1) return;
    const k = splitPoint(n);
    if (m < k) {
      walk(m, start, start + k);
      out.push(src.hashRange(start + k, end));
    } else {
      walk(m - k, start + k, end);
      out.push(src.hashRange(start, start + k));
    }
  };
  walk(index, 0, size);
  return out;
}

/** RFC 6962 PROOF(m, D[0:n]): consistency between tree sizes m and n. */
export function consistencyProof(src: HashSource, first: number, second: number): Uint8Array[] {
  if (!(first >= 0 && first <= second)) throw new RangeError(`bad sizes ${first}, ${second}`);
  if (first === 0 || first === second) return [];
  const out: Uint8Array[] = [];
  const sub = (m: number, start: number, end: number, complete: boolean): void => {
    const n = end - start;
    if (m === n) {
      if (!complete) out.push(src.hashRange(start, end));
      return;
    }
    const k = splitPoint(n);
    if (m <= k) {
      sub(m, start, start + k, complete);
      out.push(src.hashRange(start + k, end));
    } else {
      sub(m - k, start + k, end, false);
      out.push(src.hashRange(start, start + k));
    }
  };
  sub(first, 0, second, true);
  return out;
}
