import { asciiAround } from '../crypto/index.js';
import type { AppendResult, TreeHead } from '../log/index.js';
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

/** The parts of an answer shared by every entry of one batch (one tree head). */
interface HeadParts {
  /** The tree head these are of (one object per batch, shared by its answers). */
  of: TreeHead;
  rootHashB64: string;
  /** The checkpoint as a JSON string literal, UTF-8 (its signature lines start with an em dash). */
  checkpointLiteral: Buffer;
}

/**
 * transparencyLogEntryJson's bytes, assembled for the append route: every member but the
 * checkpoint is ASCII (digits, base64, the kind and version names), so those parts are written
 * as latin1, and the checkpoint's JSON literal is encoded once per tree head. JSON.stringify of
 * the object and the UTF-8 encoding of the whole text (the em dash makes it a two-byte string)
 * were about a fifth of the main thread's instructions per append.
 */
export class TransparencyLogEntryWriter {
  private readonly logIdB64: string;
  private head: HeadParts | undefined;

  constructor(logId: Buffer) {
    this.logIdB64 = logId.toString('base64');
  }

  private parts(h: TreeHead): HeadParts {
    if (this.head?.of !== h)
      this.head = {
        of: h,
        rootHashB64: h.rootHash.toString('base64'),
        checkpointLiteral: Buffer.from(JSON.stringify(h.signed), 'utf8'),
      };
    return this.head;
  }

  bytes(entry: LoggedEntry, result: AppendResult): Buffer {
    const h = this.parts(result.treeHead);
    const index = result.entry.index;
    let hashes = '';
    for (let i = 0; i < result.inclusionProof.length; i++)
      hashes += `${i === 0 ? '"' : ',"'}${result.inclusionProof[i]!.toString('base64')}"`;
    const before =
      `{"logIndex":"${index}","logId":{"keyId":"${this.logIdB64}"},` +
      `"kindVersion":{"kind":"${entry.kind}","version":"${entry.version}"},"integratedTime":"0",` +
      `"inclusionProof":{"logIndex":"${index}","rootHash":"${h.rootHashB64}","treeSize":"${result.treeHead.size}",` +
      `"hashes":[${hashes}],"checkpoint":{"envelope":`;
    const after = `}},"canonicalizedBody":"${result.entry.leaf.toString('base64')}"}`;
    return asciiAround(before, h.checkpointLiteral, after);
  }
}
