import type { KeyObject } from 'node:crypto';
import { SigilError } from '../errors/index.js';
import { fromBase64, fromHex, sha256, spkiDer } from '../crypto/index.js';
import { leafHash, verifyInclusion } from '../merkle/index.js';
import { parseCheckpoint, parseSignedNote, verifyNote, type Checkpoint } from '../bundle/signed-note.js';
import type { IdentifiedLogEntry } from './log-entry.js';
import { verifySet } from './set.js';

export const MAX_PROOF_HASHES = 64;

export interface EntryVerification {
  uuid: string;
  logIndex: number;
  integratedTime: number;
  /** The checkpoint the inclusion proof was checked against. */
  checkpoint: Checkpoint;
  /** Key name of the checkpoint signature that verified. */
  checkpointSigner: string;
}

const fail = (message: string): never => {
  throw new SigilError('TLOG_FAILED', message);
};

/**
 * Offline verification of a Rekor v1 log entry against the log's public key: the entry ID
 * matches the body, the signed entry timestamp verifies, the inclusion proof leads to the
 * proof's root, and the checkpoint carrying that root and size is signed by the log key.
 * Throws SigilError TLOG_FAILED naming the first check that failed.
 */
export function verifyLogEntry(
  entry: IdentifiedLogEntry,
  logKey: KeyObject,
  opts: { checkpointName?: string } = {},
): EntryVerification {
  const logId = sha256(spkiDer(logKey));
  if (entry.logID !== logId.toString('hex')) fail('entry logID does not match the log public key');
  const body = fromBase64(entry.body, 'entry body');
  const leaf = leafHash(body);
  if (!entry.uuid.toLowerCase().endsWith(leaf.toString('hex')))
    fail('entry ID does not match the entry body');

  const v = entry.verification;
  if (!v?.signedEntryTimestamp) fail('entry has no signed entry timestamp');
  const set = fromBase64(v.signedEntryTimestamp, 'signedEntryTimestamp');
  const setOk = verifySet(
    logKey,
    { body: entry.body, integratedTime: entry.integratedTime, logID: entry.logID, logIndex: entry.logIndex },
    set,
  );
  if (!setOk) fail('signed entry timestamp does not verify with the log key');

  const p = v.inclusionProof;
  if (!p) fail('entry has no inclusion proof');
  // The proof index is shard-local; the entry's logIndex is global (offset by the frozen shards before it).
  if (!Number.isSafeInteger(p.logIndex) || p.logIndex < 0 || p.logIndex > entry.logIndex) {
    fail('inclusion proof index is not a shard-local index of the entry');
  }
  if (!Array.isArray(p.hashes) || p.hashes.length > MAX_PROOF_HASHES)
    fail('inclusion proof hashes are malformed');
  const hashes = p.hashes.map((h, i) => fromHex(h, `inclusion proof hash ${i}`, 32));
  const root = fromHex(p.rootHash, 'inclusion proof root hash', 32);
  if (!verifyInclusion(p.logIndex, p.treeSize, leaf, hashes, root))
    fail('inclusion proof does not lead to its root hash');

  const note = parseSignedNote(p.checkpoint);
  const checkpoint = parseCheckpoint(note.text);
  if (checkpoint.size !== p.treeSize || !checkpoint.rootHash.equals(root)) {
    fail('checkpoint size or root hash differs from the inclusion proof');
  }
  const hint = logId.subarray(0, 4);
  let signer: string | undefined;
  for (const s of note.signatures) {
    if (!s.keyHint.equals(hint)) continue;
    if (opts.checkpointName !== undefined && s.name !== opts.checkpointName) continue;
    if (verifyNote(note, s.name, hint, logKey)) signer = s.name;
    else fail('checkpoint signature does not verify with the log key');
  }
  if (signer === undefined) fail('checkpoint carries no signature of the log key');
  return {
    uuid: entry.uuid,
    logIndex: entry.logIndex,
    integratedTime: entry.integratedTime,
    checkpoint,
    checkpointSigner: signer!,
  };
}
