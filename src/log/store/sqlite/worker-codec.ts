import type { CommitBatch, NewEntry, NodeHash } from '../types.js';

/**
 * Packs the bulky arguments sent to the store's worker thread (a batch's leaves and hashes,
 * leaf hashes to look up) into one fresh ArrayBuffer that is transferred, not cloned: one copy
 * on this side instead of a structured clone of thousands of small Buffers. The worker gets
 * Buffer views onto the transferred memory. Pure.
 */
export interface PackedBatch {
  previousSize: number;
  treeHead: CommitBatch['treeHead'];
  /** Per entry: index, integratedTime, leaf length. */
  meta: Float64Array;
  indexKeys: (readonly string[])[];
  /** Per node: level, index. */
  nodeMeta: Float64Array;
  /** Entry leaf hashes, then leaves, then node hashes. */
  bytes: ArrayBuffer;
}

export function packBatch(batch: CommitBatch): PackedBatch {
  const n = batch.entries.length;
  const meta = new Float64Array(n * 3);
  let size = 0;
  batch.entries.forEach((e, i) => {
    meta[i * 3] = e.index;
    meta[i * 3 + 1] = e.integratedTime;
    meta[i * 3 + 2] = e.leaf.length;
    size += e.leafHash.length + e.leaf.length;
  });
  const nodeMeta = new Float64Array(batch.nodes.length * 2);
  batch.nodes.forEach((node, i) => {
    nodeMeta[i * 2] = node.level;
    nodeMeta[i * 2 + 1] = node.index;
    size += node.hash.length;
  });
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const e of batch.entries) {
    if (e.leafHash.length !== 32) throw new RangeError('leaf hashes must be 32 bytes');
    bytes.set(e.leafHash, at);
    at += 32;
  }
  for (const e of batch.entries) {
    bytes.set(e.leaf, at);
    at += e.leaf.length;
  }
  for (const node of batch.nodes) {
    if (node.hash.length !== 32) throw new RangeError('node hashes must be 32 bytes');
    bytes.set(node.hash, at);
    at += 32;
  }
  return {
    previousSize: batch.previousSize,
    treeHead: batch.treeHead,
    meta,
    indexKeys: batch.entries.map((e) => e.indexKeys),
    nodeMeta,
    bytes: bytes.buffer,
  };
}

export function unpackBatch(p: PackedBatch): CommitBatch {
  const n = p.meta.length / 3;
  const entries: NewEntry[] = [];
  let leafAt = n * 32;
  for (let i = 0; i < n; i++) {
    const length = p.meta[i * 3 + 2]!;
    entries.push({
      index: p.meta[i * 3]!,
      integratedTime: p.meta[i * 3 + 1]!,
      leafHash: Buffer.from(p.bytes, i * 32, 32),
      leaf: Buffer.from(p.bytes, leafAt, length),
      indexKeys: p.indexKeys[i] ?? [],
    });
    leafAt += length;
  }
  const nodes: NodeHash[] = [];
  for (let i = 0; i < p.nodeMeta.length / 2; i++) {
    nodes.push({
      level: p.nodeMeta[i * 2]!,
      index: p.nodeMeta[i * 2 + 1]!,
      hash: Buffer.from(p.bytes, leafAt + i * 32, 32),
    });
  }
  const h = p.treeHead;
  return {
    previousSize: p.previousSize,
    entries,
    nodes,
    treeHead: {
      ...h,
      rootHash: Buffer.from(h.rootHash.buffer, h.rootHash.byteOffset, h.rootHash.byteLength),
    },
  };
}

/** Leaf hashes to look up (any length each, normally 32), packed as in packed.ts. */
export { packBytes as packHashes, unpackBytes as unpackHashes } from '../packed.js';
