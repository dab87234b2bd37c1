import { EMPTY_ROOT, nodeHash, splitPoint, type HashSource } from '../merkle/index.js';
import type { NodeId } from './store/types.js';

/** Looks a complete-subtree hash up; returns undefined when it is not at hand. */
export type NodeLookup = (level: number, index: number) => Buffer | undefined;

const PLACEHOLDER = Buffer.alloc(32);
const MEMO_LIMIT = 8192;

export interface BufferHashSource extends HashSource {
  hashRange(start: number, end: number): Buffer;
}

/** Level of a perfect subtree of `width` leaves, or -1 when width is not a power of two. */
export function perfectLevel(width: number): number {
  if (width < 1) return -1;
  let level = 0;
  let w = 1;
  while (w < width) {
    w *= 2;
    level += 1;
  }
  return w === width ? level : -1;
}

/** Number key of a node (level ≤ 63, index < 2^47 keeps it a safe integer). */
export function nodeKey(level: number, index: number): number {
  return level * 2 ** 47 + index;
}

/**
 * A HashSource that composes MTH(D[start:end]) from O(log n) complete-subtree hashes. Nodes that
 * `lookup` lacks are recorded in `missing` and stand in as zero hashes, so a caller runs the
 * computation once to learn what to fetch, fetches it, and runs it again. Composite (non-perfect)
 * ranges are memoized in `memo` (they never change once committed) unless a placeholder was used.
 */
export function composingSource(
  lookup: NodeLookup,
  missing: Map<number, NodeId>,
  memo: Map<string, Buffer>,
): BufferHashSource {
  // Counted per use, not read off missing.size: a node already missing does not grow the map.
  let placeholders = 0;
  const range = (start: number, end: number): Buffer => {
    const n = end - start;
    if (n <= 0) return EMPTY_ROOT;
    const level = perfectLevel(n);
    if (level >= 0) {
      if (start % n === 0) {
        const h = lookup(level, start / n);
        if (h !== undefined) return h;
        missing.set(nodeKey(level, start / n), { level, index: start / n });
        placeholders += 1;
        return PLACEHOLDER;
      }
      // Not aligned (never the case for RFC 6962 proofs): fall back to the two halves.
      return nodeHash(range(start, start + n / 2), range(start + n / 2, end));
    }
    const key = `${start}:${end}`;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    const before = placeholders;
    const k = splitPoint(n);
    const h = nodeHash(range(start, start + k), range(start + k, end));
    if (placeholders === before) {
      if (memo.size >= MEMO_LIMIT) memo.clear();
      memo.set(key, h);
    }
    return h;
  };
  return { hashRange: range };
}
