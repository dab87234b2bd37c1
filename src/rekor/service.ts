import { SigilError } from '../errors/index.js';
import type { StoredEntry, TransparencyLog, TreeHead } from '../log/types.js';
import { parseEntryId } from './entry-id.js';
import type { LogKey } from './log-key.js';
import {
  logEntryMapBytes,
  logEntryMember,
  treeHeadJson,
  type EntryParts,
  type TreeHeadJson,
} from './log-entry.js';
import type { PreparedEntry, RekorWorkers } from './pool.js';
import { leafSetPayload, setPayload } from './set.js';
import { shardEntryId, ShardSet, type RekorShard, type ShardEntry } from './shards.js';

/** Most entries one retrieve request may name, as in Rekor. */
export const MAX_RETRIEVE_ITEMS = 10;
/** Most entry IDs one index lookup returns. */
export const MAX_INDEX_RESULTS = 1000;

/**
 * The log core's `attest` hook for Rekor: signs the SETs of a batch's new entries (through
 * RekorWorkers.signSets) while the store commits the batch (see
 * LogConfig.attest). `workers` is read at call time. `offset` turns the shard's indexes into
 * global ones (the SET covers the global logIndex).
 */
export function rekorSetAttestor(
  workers: () => RekorWorkers | undefined,
  logId: string,
  offset = 0,
): (entries: readonly StoredEntry[]) => Promise<Buffer[]> {
  return async (entries) => {
    const w = workers();
    if (w === undefined) return [];
    return w.signSets(
      entries.map((e) =>
        leafSetPayload(e.leaf, {
          integratedTime: e.integratedTime,
          logID: logId,
          logIndex: offset + e.index,
        }),
      ),
    );
  };
}

/**
 * The Rekor v1 personality over a TransparencyLog: turns proposed entries into log leaves and
 * stored entries into LogEntry JSON with a fresh SET and an inclusion proof.
 * Every method answers text (`"<id>":{…}` members) so the routes only frame it.
 * Appends go to `log`, the active shard; reads span `shards` (see shards.ts).
 */
export class RekorService {
  private lastHead: { signed: string; json: TreeHeadJson } | undefined;
  private readonly active: RekorShard;

  constructor(
    readonly log: TransparencyLog,
    private readonly workers: RekorWorkers,
    readonly key: LogKey,
    readonly shards: ShardSet = new ShardSet(log),
  ) {
    this.active = shards.active;
  }

  get treeId(): string {
    return this.log.treeId;
  }

  /**
   * Validates, verifies and appends; resolves after the durable commit with the entry's ID and
   * its `{"<id>":{…}}` map (UTF-8). Duplicate → DUPLICATE_ENTRY with the existing ID.
   */
  async create(json: string): Promise<{ uuid: string; map: Buffer }> {
    const prepared = await this.workers.prepareEntry(json);
    return this.append(prepared);
  }

  private async append(prepared: PreparedEntry): Promise<{ uuid: string; map: Buffer }> {
    const r = await this.log.append(prepared.body, { indexKeys: prepared.indexKeys });
    const uuid = shardEntryId(this.active, r.entry.leafHash);
    if (r.duplicate) {
      throw new SigilError(
        'DUPLICATE_ENTRY',
        `an equivalent entry already exists in the transparency log with UUID ${uuid}`,
        {
          headers: { 'x-sigil-entry-id': uuid },
        },
      );
    }
    // A log built with rekorSetAttestor hands back the SET it signed during the commit.
    const parts = await this.parts(this.active, r.entry, r.inclusionProof, r.attestation);
    return { uuid, map: logEntryMapBytes(parts, this.headJson(r.treeHead)) };
  }

  /** `"<id>":{…}` for a stored entry, proven against its shard's latest (for a frozen shard: final) tree head. */
  async memberFor({ shard, entry }: ShardEntry): Promise<string> {
    const head = shard.log.latestTreeHead();
    const proof = await shard.log.inclusionProof(entry.index, head.size);
    return this.member(shard, entry, head, proof);
  }

  private async member(
    shard: RekorShard,
    entry: StoredEntry,
    head: TreeHead,
    proof: readonly Uint8Array[],
  ): Promise<string> {
    return logEntryMember(await this.parts(shard, entry, proof), this.headJson(head));
  }

  /** An entry's LogEntry fields; the SET is signed here unless the commit signed it (`signed`). */
  private async parts(
    shard: RekorShard,
    entry: StoredEntry,
    proof: readonly Uint8Array[],
    signed?: Buffer,
  ): Promise<EntryParts> {
    const bodyB64 = entry.leaf.toString('base64');
    const logIndex = shard.offset + entry.index;
    const fields = { body: bodyB64, integratedTime: entry.integratedTime, logID: this.key.logId, logIndex };
    const set = signed ?? (await this.workers.signSet(setPayload(fields)));
    return {
      ...fields,
      proofIndex: entry.index,
      uuid: shardEntryId(shard, entry.leafHash),
      bodyB64,
      setB64: set.toString('base64'),
      proof,
    };
  }

  private headJson(head: TreeHead): TreeHeadJson {
    if (this.lastHead?.signed !== head.signed) {
      this.lastHead = { signed: head.signed, json: treeHeadJson(head.size, head.rootHash, head.signed) };
    }
    return this.lastHead.json;
  }

  /** The entry at a global index, in whichever shard holds it. */
  async byIndex(index: number): Promise<ShardEntry | undefined> {
    const at = this.shards.resolveIndex(index);
    if (at === undefined) return undefined;
    const entry = await at.shard.log.getEntry(at.local);
    return entry && { shard: at.shard, entry };
  }

  /** An 80-hex ID looks in its tree only; a 64-hex leaf hash in the active shard, then the frozen ones newest first. */
  async byId(id: unknown): Promise<ShardEntry | undefined> {
    return (await this.findAll(id, true))[0];
  }

  /** Every shard's entry with this ID or leaf hash (Rekor's retrieve answers one per shard). */
  async allById(id: unknown): Promise<ShardEntry[]> {
    return this.findAll(id, false);
  }

  private async findAll(id: unknown, first: boolean): Promise<ShardEntry[]> {
    const parsed = parseEntryId(id);
    if (parsed.treeIdHex !== undefined) {
      const shard = this.shards.byTreeIdHex(parsed.treeIdHex);
      return shard ? this.findIn([shard], parsed.leafHash, first) : [];
    }
    return this.findIn(this.shards.searchOrder, parsed.leafHash, first);
  }

  private async findIn(
    shards: readonly RekorShard[],
    leafHash: Buffer,
    first: boolean,
  ): Promise<ShardEntry[]> {
    const out: ShardEntry[] = [];
    for (const shard of shards) {
      const entry = await shard.log.findByLeafHash(leafHash);
      if (entry === undefined) continue;
      out.push({ shard, entry });
      if (first) break;
    }
    return out;
  }

  /** The stored entries equal to a proposed entry, one per shard that holds it (it is verified and canonicalized first). */
  async byProposedEntry(entry: unknown): Promise<ShardEntry[]> {
    const prepared = await this.workers.prepareEntry(JSON.stringify(entry));
    return this.findIn(this.shards.searchOrder, prepared.leafHash, false);
  }

  /** Entry IDs filed under an index key, oldest shard first, at most MAX_INDEX_RESULTS. */
  async idsForIndexKey(key: string): Promise<Set<string>> {
    const ids = new Set<string>();
    for (const shard of [...this.shards.inactive, this.active]) {
      const room = MAX_INDEX_RESULTS - ids.size;
      if (room <= 0) break;
      for (const i of await shard.log.lookupIndexKey(key, room)) {
        const e = await shard.log.getEntry(i);
        if (e) ids.add(shardEntryId(shard, e.leafHash));
      }
    }
    return ids;
  }
}
