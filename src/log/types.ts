/**
 * The contract between the log core (src/log) and its personalities (src/rekor, the CT log in
 * src/ca). The core knows no entry kinds: a leaf is opaque bytes, hashed per RFC 6962.
 * Reads are async so that a networked store (PostgreSQL) fits the same contract.
 */

/** A signed tree head as the personality formats it (e.g. a C2SP signed note). */
export interface TreeHead {
  size: number;
  rootHash: Buffer;
  /** Unix milliseconds at which the tree head was produced. */
  timestamp: number;
  /** The personality's signed representation (signed-note text for Rekor). */
  signed: string;
}

/** Produces the signed representation of a tree head; called once per committed batch. */
export type TreeHeadSigner = (size: number, rootHash: Buffer, timestamp: number) => string;

export interface StoredEntry {
  index: number;
  leaf: Buffer;
  leafHash: Buffer;
  /** Unix seconds at which the entry's batch was committed. */
  integratedTime: number;
}

export interface AppendOptions {
  /** Secondary lookup keys (search index), stored atomically with the entry. */
  indexKeys?: readonly string[];
}

export interface AppendResult {
  entry: StoredEntry;
  /** True when an entry with the same leaf hash already existed; nothing was written. */
  duplicate: boolean;
  /** A signed tree head that includes the entry (for a duplicate: the latest one). */
  treeHead: TreeHead;
  /** RFC 6962 inclusion proof of the entry against treeHead (leaf side first). */
  inclusionProof: Buffer[];
  /**
   * The personality's attestation of a new entry (a Rekor SET), made during the commit when the
   * log was opened with an `attest` hook; absent for duplicates, forwarded appends, or a failed hook.
   */
  attestation?: Buffer;
}

export interface TransparencyLog {
  /** Decimal tree ID, random at creation and persisted (Rekor's treeID, the entry-ID prefix). */
  readonly treeId: string;
  /**
   * Resolves only after the entry is durably committed and integrated into a signed tree head.
   * Concurrent appends share one commit. Rejects with SigilError PUSHBACK when the queue is full,
   * STORAGE_FAILURE when the commit failed (then nothing of the batch is acknowledged).
   */
  append(leaf: Buffer, opts?: AppendOptions): Promise<AppendResult>;
  /** The latest durably stored signed tree head (kept in memory). */
  latestTreeHead(): TreeHead;
  getEntry(index: number): Promise<StoredEntry | undefined>;
  getEntries(start: number, count: number): Promise<StoredEntry[]>;
  findByLeafHash(leafHash: Buffer): Promise<StoredEntry | undefined>;
  lookupIndexKey(key: string, limit?: number): Promise<number[]>;
  /** Root hash of the tree at `size` (size ≤ current size). */
  rootAt(size: number): Promise<Buffer>;
  inclusionProof(index: number, treeSize: number): Promise<Buffer[]>;
  consistencyProof(first: number, second: number): Promise<Buffer[]>;
  close(): Promise<void>;
}
