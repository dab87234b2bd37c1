import type { KeyObject } from 'node:crypto';
import { verifyConsistency } from '../merkle/index.js';
import type { LogInfo, RekorClient } from '../rekor/client.js';
import { verifiedCheckpoint } from './checkpoint.js';
import type { AlertKind, MonitorState } from './state.js';

export interface RotationFinding {
  kind: AlertKind;
  message: string;
}

/**
 * The active tree's origin changed. That is a rotation, not a fork, only when the log lists the
 * tree the monitor followed among its inactive shards, with a final tree head signed by the
 * pinned key that extends (or equals) the last checkpoint the monitor saw. Returns what is wrong,
 * or undefined when the rotation is honest (the monitor then follows the new active tree).
 */
export async function checkRotation(
  client: RekorClient,
  info: LogInfo,
  key: KeyObject,
  prev: MonitorState,
  newOrigin: string,
): Promise<RotationFinding | undefined> {
  const shards = info.inactiveShards ?? [];
  let followed: { treeID: string; size: number; rootHash: string } | undefined;
  for (const s of shards) {
    let origin: string;
    try {
      const cp = verifiedCheckpoint(s.signedTreeHead, key);
      if (cp.size !== s.treeSize || cp.rootHash.toString('hex') !== s.rootHash) {
        return {
          kind: 'fork',
          message: `inactive shard ${s.treeID} disagrees with its own final checkpoint`,
        };
      }
      origin = cp.origin;
    } catch (e) {
      return {
        kind: 'bad-signature',
        message: `final checkpoint of inactive shard ${s.treeID} does not verify: ${(e as Error).message}`,
      };
    }
    if (origin === newOrigin)
      return { kind: 'fork', message: `inactive shard ${s.treeID} has the origin of the active tree` };
    if (origin === prev.origin) followed = { treeID: s.treeID, size: s.treeSize, rootHash: s.rootHash };
  }
  if (followed === undefined) {
    return {
      kind: 'fork',
      message: `the log now signs checkpoints of another tree (origin "${newOrigin}", was "${prev.origin}") and lists no inactive shard of the old one`,
    };
  }
  const final = `final tree of the rotated shard ${followed.treeID}`;
  if (followed.size < prev.size) {
    return {
      kind: 'rollback',
      message: `${final} has size ${followed.size}, below the ${prev.size} seen before the rotation`,
    };
  }
  if (followed.size === prev.size) {
    return followed.rootHash === prev.rootHash
      ? undefined
      : {
          kind: 'fork',
          message: `two different roots for tree size ${prev.size} of shard ${followed.treeID}`,
        };
  }
  if (prev.size === 0) return undefined;
  const proof = await client.consistencyProof(prev.size, followed.size, followed.treeID);
  const ok =
    proof.rootHash === followed.rootHash &&
    verifyConsistency(
      prev.size,
      followed.size,
      Buffer.from(prev.rootHash, 'hex'),
      Buffer.from(followed.rootHash, 'hex'),
      proof.hashes.map((h) => Buffer.from(h, 'hex')),
    );
  return ok
    ? undefined
    : {
        kind: 'fork',
        message: `${final} (size ${followed.size}) is not an extension of size ${prev.size} (root ${prev.rootHash})`,
      };
}
