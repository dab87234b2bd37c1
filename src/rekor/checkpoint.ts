import { formatCheckpoint, signNote } from '../bundle/signed-note.js';
import type { TreeHeadSigner } from '../log/types.js';
import type { LogKey } from './log-key.js';

/**
 * Rekor v1 checkpoints: origin `<hostname> - <treeID>`, one signature line named `<hostname>`
 * with key hint logID[0:4] (sigstore-js requires the tlog baseUrl to contain that name).
 */
export function rekorCheckpointSigner(key: LogKey, hostname: string, treeId: string): TreeHeadSigner {
  const origin = `${hostname} - ${treeId}`;
  return (size, rootHash) =>
    signNote(
      formatCheckpoint({ origin, size, rootHash, extensions: [] }),
      hostname,
      key.privateKey,
      key.keyHint,
    );
}

/** Hostname of a URL as a checkpoint key name (IPv6 brackets kept, as sigstore-js compares substrings of baseUrl). */
export function checkpointName(publicUrl: string): string {
  return new URL(publicUrl).hostname;
}
