import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { createLog, type Log, type LogStore } from '../../log/index.js';
import { encodeChain, precertChainEntryFromEncodedChain } from './structs.js';

const PRECERT_RECORD = 0x01;
const CHAIN_RECORD = 0x02;
const CHAIN_ID_BYTES = 32;

/**
 * The get-entries `extra_data` (PrecertChainEntry) of every CT entry, written ahead of it: the
 * precertificate is durably journaled before its leaf is appended to the CT log, so after any
 * crash every logged leaf has its extra data (a journaled precertificate whose append then
 * failed is an orphan nobody reads). The log core cannot store extra bytes beside a leaf in the
 * leaf's own transaction (index keys map key → index, never back), so the journal is a second
 * instance of the log core over its own store, used for its durable batched commits and its
 * index keys: record `01 ‖ chainId ‖ precert` is filed under `leaf:<CT leaf hash>`, and each
 * issuer chain once as `02 ‖ precertificate_chain` under `chain:<chainId>`.
 */
export interface PrecertJournal {
  /** Resolves once the PrecertChainEntry of the CT leaf with hash `leafHash` is durable. */
  put(leafHash: Buffer, precert: Buffer, issuerChain: readonly Buffer[]): Promise<void>;
  /** PrecertChainEntry per CT entry (undefined where none was journaled). */
  get(entries: readonly { index: number; leafHash: Buffer }[]): Promise<(Buffer | undefined)[]>;
  close(): Promise<void>;
}

export async function openPrecertJournal(store: LogStore, legacyDbPath?: string): Promise<PrecertJournal> {
  const log: Log = await createLog({ store, signTreeHead: () => '' });
  const legacy =
    legacyDbPath !== undefined && existsSync(legacyDbPath) ? openLegacy(legacyDbPath) : undefined;
  const chainIds = new WeakMap<readonly Buffer[], { id: Buffer; written: Promise<void> }>();
  const chains = new Map<string, Buffer>();

  const chainRecord = (issuerChain: readonly Buffer[]): { id: Buffer; written: Promise<void> } => {
    let known = chainIds.get(issuerChain);
    if (!known) {
      const encoded = encodeChain(issuerChain);
      const id = createHash('sha256').update(encoded).digest();
      chains.set(id.toString('hex'), encoded);
      const record = Buffer.concat([Buffer.from([CHAIN_RECORD]), encoded]);
      const written = log
        .append(record, { indexKeys: [`chain:${id.toString('hex')}`] })
        .then(() => undefined);
      written.catch(() => chainIds.delete(issuerChain));
      known = { id, written };
      chainIds.set(issuerChain, known);
    }
    return known;
  };

  const chainBytes = async (id: string): Promise<Buffer | undefined> => {
    const hit = chains.get(id);
    if (hit) return hit;
    const [index] = await log.lookupIndexKey(`chain:${id}`, 1);
    const record = index === undefined ? undefined : (await log.getEntry(index))?.leaf;
    if (!record || record[0] !== CHAIN_RECORD) return undefined;
    const encoded = record.subarray(1);
    if (chains.size < 64) chains.set(id, encoded);
    return encoded;
  };

  const lookup = async (e: { index: number; leafHash: Buffer }): Promise<Buffer | undefined> => {
    const [index] = await log.lookupIndexKey(`leaf:${e.leafHash.toString('hex')}`, 1);
    const record = index === undefined ? undefined : (await log.getEntry(index))?.leaf;
    if (!record || record[0] !== PRECERT_RECORD) return legacy?.get(e.index);
    const chain = await chainBytes(record.subarray(1, 1 + CHAIN_ID_BYTES).toString('hex'));
    if (!chain) return undefined;
    return precertChainEntryFromEncodedChain(record.subarray(1 + CHAIN_ID_BYTES), chain);
  };

  return {
    async put(leafHash, precert, issuerChain) {
      const chain = chainRecord(issuerChain);
      await chain.written;
      const record = Buffer.concat([Buffer.from([PRECERT_RECORD]), chain.id, precert]);
      await log.append(record, { indexKeys: [`leaf:${leafHash.toString('hex')}`] });
    },
    get: (entries) => Promise.all(entries.map(lookup)),
    async close() {
      await log.close();
      legacy?.close();
    },
  };
}

/** Read-only access to the extra data of CT logs written before the journal (idx → data). */
function openLegacy(path: string): { get(index: number): Buffer | undefined; close(): void } {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  const select = db.prepare('SELECT data FROM extra WHERE idx = ?');
  return {
    get: (index) => (select.get(index) as { data: Buffer } | undefined)?.data,
    close: () => db.close(),
  };
}
