import { SigilError } from '../errors/index.js';
import type { CoreAppendResult } from '../log/core.js';
import type { StoredEntry, TransparencyLog, TreeHead } from '../log/types.js';
import { entryId, parseEntryId, treeIdHex } from './entry-id.js';
import type { LogKey } from './log-key.js';
import { logEntryMember, treeHeadJson, type TreeHeadJson } from './log-entry.js';
import type { PreparedEntry, RekorWorkers } from './pool.js';
import { setPayload } from './set.js';

/** Most entries one retrieve request may name, as in Rekor. */
export const MAX_RETRIEVE_ITEMS = 10;
/** Most entry IDs one index lookup returns. */
export const MAX_INDEX_RESULTS = 1000;

/**
 * The log core's `attest` hook for Rekor: signs the SETs of a batch's new entries on the worker
 * pool while the batch commits (see LogConfig.attest). `workers` is read at call time.
 */
export function rekorSetAttestor(
  workers: () => RekorWorkers | undefined,
  logId: string,
): (entries: readonly StoredEntry[]) => Promise<Buffer[]> {
  return async (entries) => {
    const w = workers();
    if (w === undefined) return [];
    return Promise.all(
      entries.map((e) =>
        w.signSet(setPayload({ body: e.leaf.toString('base64'), integratedTime: e.integratedTime, logID: logId, logIndex: e.index })),
      ),
    );
  };
}

/**
 * The Rekor v1 personality over a TransparencyLog: turns proposed entries into log leaves and
 * stored entries into LogEntry JSON with a fresh SET and an inclusion proof.
 * Every method answers text (`"<id>":{…}` members) so the routes only frame it.
 */
export class RekorService {
  private lastHead: { signed: string; json: TreeHeadJson } | undefined;
  private readonly treeIdPrefix: string;

  constructor(
    readonly log: TransparencyLog,
    private readonly workers: RekorWorkers,
    readonly key: LogKey,
  ) {
    this.treeIdPrefix = treeIdHex(log.treeId);
  }

  get treeId(): string {
    return this.log.treeId;
  }

  /** Validates, verifies and appends; resolves after the durable commit. Duplicate → DUPLICATE_ENTRY with the existing ID. */
  async create(json: string): Promise<{ uuid: string; member: string }> {
    const prepared = await this.workers.prepareEntry(json);
    return this.append(prepared);
  }

  private async append(prepared: PreparedEntry): Promise<{ uuid: string; member: string }> {
    const r = await this.log.append(prepared.body, { indexKeys: prepared.indexKeys });
    const uuid = entryId(this.log.treeId, r.entry.leafHash);
    if (r.duplicate) {
      throw new SigilError('DUPLICATE_ENTRY', `an equivalent entry already exists in the transparency log with UUID ${uuid}`, {
        headers: { 'x-sigil-entry-id': uuid },
      });
    }
    // A log built with rekorSetAttestor hands back the SET it signed during the commit.
    const set = (r as CoreAppendResult).attestation;
    return { uuid, member: await this.member(r.entry, r.treeHead, r.inclusionProof, set) };
  }

  /** `"<id>":{…}` for a stored entry, proven against the latest tree head. */
  async memberFor(entry: StoredEntry): Promise<string> {
    const head = this.log.latestTreeHead();
    const proof = await this.log.inclusionProof(entry.index, head.size);
    return this.member(entry, head, proof);
  }

  private async member(entry: StoredEntry, head: TreeHead, proof: readonly Uint8Array[], signed?: Buffer): Promise<string> {
    const bodyB64 = entry.leaf.toString('base64');
    const fields = { body: bodyB64, integratedTime: entry.integratedTime, logID: this.key.logId, logIndex: entry.index };
    const set = signed ?? (await this.workers.signSet(setPayload(fields)));
    return logEntryMember(
      { ...fields, uuid: entryId(this.log.treeId, entry.leafHash), bodyB64, setB64: set.toString('base64'), proof },
      this.headJson(head),
    );
  }

  private headJson(head: TreeHead): TreeHeadJson {
    if (this.lastHead?.signed !== head.signed) {
      this.lastHead = { signed: head.signed, json: treeHeadJson(head.size, head.rootHash, head.signed) };
    }
    return this.lastHead.json;
  }

  async byIndex(index: number): Promise<StoredEntry | undefined> {
    if (index >= this.log.latestTreeHead().size) return undefined;
    return this.log.getEntry(index);
  }

  async byId(id: unknown): Promise<StoredEntry | undefined> {
    const parsed = parseEntryId(id);
    if (parsed.treeIdHex !== undefined && parsed.treeIdHex !== this.treeIdPrefix) return undefined;
    return this.log.findByLeafHash(parsed.leafHash);
  }

  /** The stored entry equal to a proposed entry (it is verified and canonicalized first). */
  async byProposedEntry(entry: unknown): Promise<StoredEntry | undefined> {
    const prepared = await this.workers.prepareEntry(JSON.stringify(entry));
    return this.log.findByLeafHash(prepared.leafHash);
  }

  async idsForIndexKey(key: string): Promise<Set<string>> {
    const indexes = await this.log.lookupIndexKey(key, MAX_INDEX_RESULTS);
    const ids = new Set<string>();
    for (const i of indexes) {
      const e = await this.log.getEntry(i);
      if (e) ids.add(entryId(this.log.treeId, e.leafHash));
    }
    return ids;
  }
}
