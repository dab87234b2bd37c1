import { SigilError } from '../errors/index.js';
import { canonicalJson, verifyData } from '../crypto/index.js';
import { leafHash, verifyInclusion } from '../merkle/index.js';
import {
  parseCheckpoint,
  parseSignedNote,
  setPayloadOf,
  type TransparencyLogEntry,
} from '../bundle/index.js';
import { logKeysAt, type LogKey, type TrustMaterial } from './trust.js';

export interface TlogEntryResult {
  logIndex: number;
  logId: string;
  integratedTime: number;
  /** The SET verified, so integratedTime is a trusted signing time. */
  inclusionPromise: boolean;
  inclusionProof: boolean;
}

function fail(i: number, message: string): never {
  throw new SigilError('TLOG_FAILED', `tlog entry ${i}: ${message}`);
}

/** Verified checkpoints per trust material (a checkpoint is a fact about the log, shared by many entries). */
const checkpointCache = new WeakMap<TrustMaterial, Map<string, true>>();
const MAX_CACHED_CHECKPOINTS = 1024;

function verifySet(i: number, e: TransparencyLogEntry, keys: LogKey[]): void {
  const data = canonicalJson(setPayloadOf(e));
  const sig = e.inclusionPromise!.signedEntryTimestamp;
  if (!keys.some((k) => verifyData(k.publicKey, data, sig)))
    fail(i, 'the signed entry timestamp (SET) does not verify with the log key');
}

function verifyCheckpoint(i: number, e: TransparencyLogEntry, trust: TrustMaterial, keys: LogKey[]): void {
  const proof = e.inclusionProof!;
  let cache = checkpointCache.get(trust);
  if (!cache) checkpointCache.set(trust, (cache = new Map()));
  let note;
  let cp;
  try {
    note = parseSignedNote(proof.checkpoint);
    cp = parseCheckpoint(note.text);
  } catch (err) {
    fail(i, `checkpoint: ${(err as Error).message}`);
  }
  if (!cache.has(proof.checkpoint)) {
    const data = Buffer.from(note.text, 'utf8');
    const signed = note.signatures.some((s) =>
      keys.some(
        (k) =>
          k.checkpointKeyHint.equals(s.keyHint) &&
          k.baseUrl.includes(s.name) &&
          verifyData(k.publicKey, data, s.signature),
      ),
    );
    if (!signed) fail(i, 'the checkpoint signature does not verify with the log key');
    if (cache.size >= MAX_CACHED_CHECKPOINTS) cache.clear();
    cache.set(proof.checkpoint, true);
  }
  if (cp.size !== proof.treeSize || !cp.rootHash.equals(proof.rootHash)) {
    fail(i, 'the checkpoint tree size/root hash differ from the inclusion proof');
  }
  if (
    !verifyInclusion(
      proof.logIndex,
      proof.treeSize,
      leafHash(e.canonicalizedBody),
      proof.hashes,
      proof.rootHash,
    )
  ) {
    fail(i, 'the inclusion proof does not lead to the checkpoint root hash');
  }
}

/**
 * Verifies each log entry's SET (over JCS {body, integratedTime, logID, logIndex}) with the log key
 * valid at its integrated time, and its inclusion proof against a signed checkpoint. Every entry
 * must verify; the body cross-check is separate (body.ts).
 */
export function verifyTlogEntry(i: number, e: TransparencyLogEntry, trust: TrustMaterial): TlogEntryResult {
  const at = new Date(e.integratedTime * 1000);
  const keys = logKeysAt(trust.tlogs, e.logId, at);
  if (keys.length === 0)
    fail(i, `log ${e.logId.toString('hex')} is not in the trusted root at ${at.toISOString()}`);
  if (!e.inclusionPromise && !e.inclusionProof)
    fail(i, 'has neither an inclusion promise (SET) nor an inclusion proof');
  if (e.inclusionPromise) verifySet(i, e, keys);
  if (e.inclusionProof) verifyCheckpoint(i, e, trust, keys);
  return {
    logIndex: e.logIndex,
    logId: e.logId.toString('hex'),
    integratedTime: e.integratedTime,
    inclusionPromise: e.inclusionPromise !== undefined,
    inclusionProof: e.inclusionProof !== undefined,
  };
}
