import { inclusionProof, type HashSource } from '../merkle/index.js';
import type { NewEntry, NodeHash } from './store/types.js';
import type { TreeCache } from './tree-cache.js';
import type { AppendResult, StoredEntry, TreeHead } from './types.js';

/** One append waiting in the core's queue. */
export interface Pending {
  leaf: Buffer;
  leafHash: Buffer;
  /** Hex leaf hash: the key of every map the batch keeps. */
  key: string;
  indexKeys: readonly string[];
  resolve(r: AppendResult): void;
  reject(e: unknown): void;
}

/** A batch from its sequencing until its appenders are answered. */
export interface InFlightBatch {
  batch: Pending[];
  firstByHash: Map<string, Pending>;
  /** Entries stored before the batch or in flight ahead of it, by hex leaf hash. */
  known: Map<string, StoredEntry>;
  byHash: Map<string, StoredEntry>;
  entries: NewEntry[];
  previousSize: number;
  head: TreeHead;
  committing: Promise<void>;
  attesting: Promise<readonly Buffer[] | undefined> | undefined;
}

/** The first append of each leaf hash in `batch` (the others are answered as its duplicates). */
export function firstOfEach(batch: readonly Pending[]): {
  firstByHash: Map<string, Pending>;
  unique: Pending[];
} {
  const firstByHash = new Map<string, Pending>();
  const unique: Pending[] = [];
  for (const p of batch) {
    if (!firstByHash.has(p.key)) {
      firstByHash.set(p.key, p);
      unique.push(p);
    }
  }
  return { firstByHash, unique };
}

export interface Sequenced {
  entries: NewEntry[];
  /** The tree nodes the new entries complete (persisted with them). */
  nodes: NodeHash[];
  /** Every append's entry (new or known) by hex leaf hash. */
  byHash: Map<string, StoredEntry>;
}

/**
 * Gives the appends of `unique` not in `known` the indexes after `previousSize` and appends
 * their leaf hashes to `cache` (the only side effect).
 */
export function sequence(
  unique: readonly Pending[],
  known: ReadonlyMap<string, StoredEntry>,
  previousSize: number,
  integratedTime: number,
  cache: TreeCache,
): Sequenced {
  const entries: NewEntry[] = [];
  const nodes: NodeHash[] = [];
  const byHash = new Map<string, StoredEntry>(known);
  for (const p of unique) {
    if (known.has(p.key)) continue;
    const entry: NewEntry = {
      index: previousSize + entries.length,
      leaf: p.leaf,
      leafHash: p.leafHash,
      integratedTime,
      indexKeys: p.indexKeys,
    };
    entries.push(entry);
    byHash.set(p.key, entry);
    for (const n of cache.append(p.leafHash)) nodes.push(n);
  }
  return { entries, nodes, byHash };
}

/**
 * The answer of every append of a durably committed batch, in order: its entry (new or the
 * existing one), an inclusion proof against the batch's tree head, and the attestation of a new
 * entry. Pure over `src`.
 */
export function batchResults(
  b: InFlightBatch,
  src: HashSource,
  attestations: readonly Buffer[] | undefined,
): { pending: Pending; result: AppendResult }[] {
  const { head, previousSize } = b;
  return b.batch.map((p) => {
    const e = b.byHash.get(p.key)!;
    const duplicate = b.known.has(p.key) || b.firstByHash.get(p.key) !== p;
    const result: AppendResult = {
      entry: { index: e.index, leaf: e.leaf, leafHash: e.leafHash, integratedTime: e.integratedTime },
      duplicate,
      treeHead: head,
      inclusionProof: inclusionProof(src, e.index, head.size).map((h) => Buffer.from(h)),
    };
    const attestation = duplicate ? undefined : attestations?.[e.index - previousSize];
    if (attestation !== undefined) result.attestation = attestation;
    return { pending: p, result };
  });
}
