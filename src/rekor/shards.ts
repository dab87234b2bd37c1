import { SigilError } from '../errors/index.js';
import type { StoredEntry, TransparencyLog } from '../log/types.js';
import { treeIdHex } from './entry-id.js';

/**
 * One tree of the log as the Rekor personality serves it. Global ("virtual") log indexes run
 * through the shards in order: a shard's entry i has the global index offset + i, which is the
 * entry's `logIndex` and what its SET covers; `verification.inclusionProof.logIndex` stays i,
 * proven against that shard's own checkpoint (as in Rekor's pkg/sharding).
 */
export interface RekorShard {
  /** Decimal tree ID. */
  treeId: string;
  /** The 16-hex entry-ID prefix. */
  treeIdHex: string;
  log: TransparencyLog;
  offset: number;
}

/** A stored entry together with the shard it lives in (its index is shard-local). */
export interface ShardEntry {
  shard: RekorShard;
  entry: StoredEntry;
}

/** The entry ID (16 hex tree ID + 64 hex leaf hash) of a shard's leaf. */
export function shardEntryId(shard: RekorShard, leafHash: Buffer): string {
  return shard.treeIdHex + leafHash.toString('hex');
}

/** `GET /api/v1/log` inactiveShards item (Rekor's InactiveShardLogInfo). */
export interface InactiveShardJson {
  rootHash: string;
  signedTreeHead: string;
  treeID: string;
  treeSize: number;
}

const TREE_ID_PARAM = /^[0-9]{1,19}$/;

function shardOf(log: TransparencyLog, offset: number): RekorShard {
  return { treeId: log.treeId, treeIdHex: treeIdHex(log.treeId), log, offset };
}

/** The active shard and the frozen ones (oldest first) behind one Rekor API. */
export class ShardSet {
  readonly active: RekorShard;
  readonly inactive: readonly RekorShard[];
  /** Active first, then the frozen shards newest first: where a lookup by hash searches. */
  readonly searchOrder: readonly RekorShard[];
  private readonly byHex: Map<string, RekorShard>;

  constructor(
    active: TransparencyLog,
    activeOffset = 0,
    inactive: readonly { log: TransparencyLog; offset: number }[] = [],
  ) {
    this.active = shardOf(active, activeOffset);
    this.inactive = inactive.map((s) => shardOf(s.log, s.offset));
    this.searchOrder = [this.active, ...[...this.inactive].reverse()];
    this.byHex = new Map(this.searchOrder.map((s) => [s.treeIdHex, s]));
  }

  /** The shard holding global index `index` and the index within it; undefined beyond the log. */
  resolveIndex(index: number): { shard: RekorShard; local: number } | undefined {
    for (const shard of this.searchOrder) {
      if (index >= shard.offset) {
        const local = index - shard.offset;
        return local < shard.log.latestTreeHead().size ? { shard, local } : undefined;
      }
    }
    return undefined;
  }

  byTreeIdHex(hex: string): RekorShard | undefined {
    return this.byHex.get(hex);
  }

  /** A `treeID` query parameter (decimal): malformed → INVALID_INPUT, unknown → NOT_FOUND. */
  byTreeIdParam(v: unknown): RekorShard {
    if (v === undefined) return this.active;
    if (typeof v !== 'string' || !TREE_ID_PARAM.test(v) || BigInt(v) > 0x7fff_ffff_ffff_ffffn) {
      throw new SigilError('INVALID_INPUT', 'treeID must be a decimal tree ID');
    }
    const shard = this.byHex.get(treeIdHex(v));
    if (shard === undefined) throw new SigilError('NOT_FOUND', `tree ${v} not found`);
    return shard;
  }

  /** Entries across all shards (the next global index). */
  totalSize(): number {
    return this.active.offset + this.active.log.latestTreeHead().size;
  }

  inactiveShardsJson(): InactiveShardJson[] {
    return this.inactive.map((s) => {
      const head = s.log.latestTreeHead();
      return {
        rootHash: head.rootHash.toString('hex'),
        signedTreeHead: head.signed,
        treeID: s.treeId,
        treeSize: head.size,
      };
    });
  }
}
