import { createHash, hash } from 'node:crypto';

// crypto.hash is one call into OpenSSL; createHash builds a Hash object (a stream) per use, which
// cost as much again as hashing a node's 65 bytes. The log hashes a leaf and a few nodes per append.

/** RFC 6962 leaf hash: SHA-256(0x00 || leaf). */
export function leafHash(leaf: Uint8Array): Buffer {
  const input = Buffer.allocUnsafe(leaf.length + 1);
  input[0] = 0;
  input.set(leaf, 1);
  return hash('sha256', input, 'buffer');
}

/** 0x01 || left || right for two 32-byte hashes (filled and hashed synchronously, so one per thread does). */
const NODE_INPUT = Buffer.alloc(65, 1);

/** RFC 6962 interior node hash: SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== 32 || right.length !== 32)
    return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest();
  NODE_INPUT.set(left, 1);
  NODE_INPUT.set(right, 33);
  return hash('sha256', NODE_INPUT, 'buffer');
}

export const EMPTY_ROOT: Buffer = createHash('sha256').digest();
const NODE_PREFIX = Buffer.from([1]);

/** Largest power of two strictly less than n (n ≥ 2). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
