import { SigilError } from '../errors/index.js';
import { canonicalJson, verifyData } from '../crypto/index.js';
import { leafHash, verifyInclusion } from '../merkle/index.js';
import { setPayloadOf, type TransparencyLogEntry } from '../bundle/index.js';
import { verifyCheckpoint } from './checkpoint.js';
import { logKeysAt, type LogKey, type TrustMaterial } from './trust.js';
import type { WitnessPolicy } from './witness.js';

export interface TlogEntryResult {
  logIndex: number;
  logId: string;
  integratedTime: number;
  /** The SET verified, so integratedTime is a trusted signing time. */
  inclusionPromise: boolean;
  inclusionProof: boolean;
  /** A Rekor v2 (tlog-tiles) entry: no integrated time, so its time must come from a TSA. */
  rekorV2: boolean;
}

/** An entry that verified, with the log keys it verified against (their windows apply at the verified times). */
export interface VerifiedTlogEntry {
  result: TlogEntryResult;
  keys: LogKey[];
}

function fail(
  i: number,
  message: string,
  code: 'TLOG_FAILED' | 'INCLUSION_PROOF_FAILED' = 'TLOG_FAILED',
): never {
  throw new SigilError(code, `tlog entry ${i}: ${message}`);
}

/** hashedrekord and dsse 0.0.2 are Rekor v2's kinds (intoto 0.0.2 is a Rekor v1 kind). */
export function isRekorV2(e: TransparencyLogEntry): boolean {
  return e.kindVersion.version === '0.0.2' && ['hashedrekord', 'dsse'].includes(e.kindVersion.kind);
}

function verifySet(i: number, e: TransparencyLogEntry, keys: LogKey[]): void {
  const data = canonicalJson(setPayloadOf(e));
  const sig = e.inclusionPromise!.signedEntryTimestamp;
  if (!keys.some((k) => verifyData(k.publicKey, data, sig)))
    fail(i, 'the signed entry timestamp (SET) does not verify with the log key');
}

/** The Merkle path first (INCLUSION_PROOF_FAILED), then the signed checkpoint it must lead to (CHECKPOINT_INVALID). */
function verifyProof(
  i: number,
  e: TransparencyLogEntry,
  trust: TrustMaterial,
  keys: LogKey[],
  witnesses: WitnessPolicy | undefined,
): void {
  const proof = e.inclusionProof!;
  if (
    !verifyInclusion(
      proof.logIndex,
      proof.treeSize,
      leafHash(e.canonicalizedBody),
      proof.hashes,
      proof.rootHash,
    )
  )
    fail(i, 'the inclusion proof does not lead to its root hash', 'INCLUSION_PROOF_FAILED');
  if (proof.checkpoint === undefined)
    throw new SigilError('CHECKPOINT_INVALID', `tlog entry ${i}: the inclusion proof has no checkpoint`);
  let cp;
  try {
    cp = verifyCheckpoint(proof.checkpoint, keys, trust, witnesses);
  } catch (err) {
    if (err instanceof SigilError) throw new SigilError(err.code, `tlog entry ${i}: ${err.message}`);
    throw err;
  }
  if (cp.size !== proof.treeSize || !cp.rootHash.equals(proof.rootHash))
    throw new SigilError(
      'CHECKPOINT_INVALID',
      `tlog entry ${i}: the checkpoint's tree size/root hash differ from the inclusion proof`,
    );
}

/**
 * Verifies a log entry: its log is in the trusted root, its SET (over JCS {body,
 * integratedTime, logID, logIndex}) with the log key valid at its integrated time, and its
 * inclusion proof against a signed checkpoint. A Rekor v2 entry needs the proof; the log key's
 * window of an entry without a SET is checked later, at the TSA's verified times. The body cross-check is body.ts.
 */
export function verifyTlogEntry(
  i: number,
  e: TransparencyLogEntry,
  trust: TrustMaterial,
  witnesses?: WitnessPolicy,
): VerifiedTlogEntry {
  const v2 = isRekorV2(e);
  // Only a SET signs the integrated time; without one the entry's log key windows are checked
  // at the TSA's verified times (times.ts), never at the unsigned integratedTime.
  const timed = e.inclusionPromise !== undefined;
  const at = new Date(e.integratedTime * 1000);
  const keys = timed
    ? logKeysAt(trust.tlogs, e.logId, at)
    : [...(trust.tlogs.get(e.logId.toString('hex')) ?? [])];
  if (keys.length === 0)
    fail(
      i,
      `log ${e.logId.toString('hex')} is not in the trusted root${timed ? ` at ${at.toISOString()}` : ''}`,
    );
  if (!e.inclusionPromise && !e.inclusionProof)
    fail(i, 'has neither an inclusion promise (SET) nor an inclusion proof');
  if (v2 && !e.inclusionProof) fail(i, 'a Rekor v2 entry needs an inclusion proof');
  // rekor-tiles writes 0: a time no SET signs would be reported as if the log had vouched for it.
  if (v2 && !timed && e.integratedTime !== 0)
    fail(i, `a Rekor v2 entry without a SET has integratedTime 0, not ${e.integratedTime}`);
  // One tree per Rekor v2 log, so its logIndex is the proven index (v1 shards number them apart).
  if (v2 && e.logIndex !== e.inclusionProof!.logIndex)
    fail(i, `logIndex ${e.logIndex} is not the proven index ${e.inclusionProof!.logIndex}`);
  if (e.inclusionPromise) verifySet(i, e, keys);
  if (e.inclusionProof) verifyProof(i, e, trust, keys, witnesses);
  return {
    result: {
      logIndex: e.logIndex,
      logId: e.logId.toString('hex'),
      integratedTime: e.integratedTime,
      inclusionPromise: e.inclusionPromise !== undefined,
      inclusionProof: e.inclusionProof !== undefined,
      rekorV2: v2,
    },
    keys,
  };
}
