import { asciiAround } from '../crypto/index.js';

/**
 * The Rekor v1 LogEntry wire shape and its serialization. Responses are assembled as text
 * because every member is b64, hex, an integer or the (JSON-escaped once) checkpoint.
 */
export interface InclusionProofJson {
  logIndex: number;
  rootHash: string;
  treeSize: number;
  hashes: string[];
  checkpoint: string;
}

export interface LogEntryJson {
  body: string;
  integratedTime: number;
  logID: string;
  logIndex: number;
  verification: { signedEntryTimestamp: string; inclusionProof: InclusionProofJson };
}

/** A log entry together with its ID (the key of the `{<id>: LogEntry}` map on the wire). */
export interface IdentifiedLogEntry extends LogEntryJson {
  uuid: string;
}

/**
 * The proof part shared by every entry answered against the same tree head: hashes differ per
 * entry, the checkpoint text (escaped once) and root do not.
 */
export interface TreeHeadJson {
  treeSize: number;
  rootHashHex: string;
  /** JSON string literal of the checkpoint (with quotes). */
  checkpointLiteral: string;
  /** checkpointLiteral in UTF-8 (its signature lines start with an em dash). */
  checkpointBytes: Buffer;
}

export function treeHeadJson(size: number, rootHash: Uint8Array, checkpoint: string): TreeHeadJson {
  const checkpointLiteral = JSON.stringify(checkpoint);
  return {
    treeSize: size,
    rootHashHex: Buffer.from(rootHash).toString('hex'),
    checkpointLiteral,
    checkpointBytes: Buffer.from(checkpointLiteral, 'utf8'),
  };
}

export interface EntryParts {
  uuid: string;
  bodyB64: string;
  integratedTime: number;
  logID: string;
  /** Global index: what the SET covers. */
  logIndex: number;
  /** Index within the entry's shard, for the inclusion proof (default: logIndex, a log of one shard). */
  proofIndex?: number;
  setB64: string;
  proof: readonly Uint8Array[];
}

/** A member up to its checkpoint: every field before it is ASCII (hex, base64, integers). */
function memberBeforeCheckpoint(e: EntryParts, th: TreeHeadJson): string {
  let hashes = '';
  for (let i = 0; i < e.proof.length; i++) {
    hashes += `${i === 0 ? '' : ','}"${Buffer.from(e.proof[i]!).toString('hex')}"`;
  }
  return (
    `"${e.uuid}":{"body":"${e.bodyB64}","integratedTime":${e.integratedTime},"logID":"${e.logID}","logIndex":${e.logIndex},` +
    `"verification":{"signedEntryTimestamp":"${e.setB64}","inclusionProof":{"logIndex":${e.proofIndex ?? e.logIndex},` +
    `"rootHash":"${th.rootHashHex}","treeSize":${th.treeSize},"hashes":[${hashes}],"checkpoint":`
  );
}

/** `"<uuid>":{…}` without the surrounding braces, so several entries can share one map. */
export function logEntryMember(e: EntryParts, th: TreeHeadJson): string {
  return `${memberBeforeCheckpoint(e, th)}${th.checkpointLiteral}}}}`;
}

/** `{"<uuid>":{…}}`: the response of create and get. */
export function logEntryMap(e: EntryParts, th: TreeHeadJson): string {
  return `{${logEntryMember(e, th)}}`;
}

/**
 * logEntryMap's UTF-8 bytes for the append route: the ASCII part written as latin1 around the
 * checkpoint literal encoded once per tree head (UTF-8 encoding the whole text, a two-byte
 * string because of the checkpoint's em dash, took the encoder's slow path on every append).
 */
export function logEntryMapBytes(e: EntryParts, th: TreeHeadJson): Buffer {
  return asciiAround(`{${memberBeforeCheckpoint(e, th)}`, th.checkpointBytes, '}}}}');
}
