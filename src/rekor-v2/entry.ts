import type { AppendResult } from '../log/index.js';
import { tlogEntryToJson, type TransparencyLogEntry } from '../bundle/index.js';
import type { LoggedEntry } from './request.js';

/**
 * The TransparencyLogEntry rekor-tiles answers (dev.sigstore.rekor.v1 protojson): the inclusion
 * proof against the checkpoint of the batch that committed the entry, `integratedTime` 0 and no
 * inclusion promise (Rekor v2 signs no SET), `logId.keyId` the full 32-byte checkpoint key ID.
 */
export function transparencyLogEntry(
  entry: LoggedEntry,
  result: AppendResult,
  logId: Buffer,
): TransparencyLogEntry {
  return {
    logIndex: result.entry.index,
    logId,
    kindVersion: { kind: entry.kind, version: entry.version },
    integratedTime: 0,
    inclusionProof: {
      logIndex: result.entry.index,
      rootHash: result.treeHead.rootHash,
      treeSize: result.treeHead.size,
      hashes: result.inclusionProof,
      checkpoint: result.treeHead.signed,
    },
    canonicalizedBody: result.entry.leaf,
  };
}

export function transparencyLogEntryJson(entry: LoggedEntry, result: AppendResult, logId: Buffer): string {
  return JSON.stringify(tlogEntryToJson(transparencyLogEntry(entry, result, logId)));
}
