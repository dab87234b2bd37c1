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
}

export function treeHeadJson(size: number, rootHash: Uint8Array, checkpoint: string): TreeHeadJson {
  return {
    treeSize: size,
    rootHashHex: Buffer.from(rootHash).toString('hex'),
    checkpointLiteral: JSON.stringify(checkpoint),
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

/** `"<uuid>":{…}` without the surrounding braces, so several entries can share one map. */
export function logEntryMember(e: EntryParts, th: TreeHeadJson): string {
  let hashes = '';
  for (let i = 0; i < e.proof.length; i++) {
    hashes += `${i === 0 ? '' : ','}"${Buffer.from(e.proof[i]!).toString('hex')}"`;
  }
  return (
    `"${e.uuid}":{"body":"${e.bodyB64}","integratedTime":${e.integratedTime},"logID":"${e.logID}","logIndex":${e.logIndex},` +
    `"verification":{"signedEntryTimestamp":"${e.setB64}","inclusionProof":{"logIndex":${e.proofIndex ?? e.logIndex},` +
    `"rootHash":"${th.rootHashHex}","treeSize":${th.treeSize},"hashes":[${hashes}],"checkpoint":${th.checkpointLiteral}}}}`
  );
}

/** `{"<uuid>":{…}}`: the response of create and get. */
export function logEntryMap(e: EntryParts, th: TreeHeadJson): string {
  return `{${logEntryMember(e, th)}}`;
}
