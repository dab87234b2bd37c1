import { createPublicKey } from 'node:crypto';
import type { Checkpoint } from '../bundle/signed-note.js';
import { fromBase64 } from '../crypto/index.js';
import { SigilError } from '../errors/index.js';
import { verifyConsistency } from '../merkle/index.js';
import { parseVerifierMaterial } from '../rekor/kinds/index.js';
import type { RekorClient } from '../rekor/client.js';
import { verifiedCheckpoint } from './checkpoint.js';
import { checkRotation } from './rotation.js';
import { MONITOR_STATE_VERSION, type AlertKind, type MonitorState } from './state.js';

export type { AlertKind };

/** Entries fetched per run for --identity (the rest wait for the next run). */
export const MAX_IDENTITY_ENTRIES_PER_RUN = 10_000;
const RETRIEVE_BATCH = 10;

export interface Alert {
  kind: AlertKind;
  message: string;
  /** Entry index (identity alerts). */
  logIndex?: number;
  /** Matching SANs (identity alerts). */
  subjects?: string[];
}

export interface CheckResult {
  /** The state to save (unchanged from the input when the log misbehaved). */
  state: MonitorState;
  alerts: Alert[];
  /** True when the log's new checkpoint verified and is consistent with the last one seen. */
  consistent: boolean;
}

export interface CheckOptions {
  client: RekorClient;
  state: MonitorState | undefined;
  identity?: RegExp;
}

/** Lowercased SANs of the certificates an entry body names (hashedrekord and dsse). */
export function entrySubjects(bodyB64: string): string[] {
  let body: { kind?: unknown; spec?: Record<string, unknown> };
  try {
    body = JSON.parse(fromBase64(bodyB64, 'body').toString('utf8')) as typeof body;
  } catch {
    return [];
  }
  const materials: unknown[] = [];
  const spec = body.spec ?? {};
  if (body.kind === 'hashedrekord') {
    materials.push(
      (
        (spec.signature as Record<string, unknown> | undefined)?.publicKey as
          Record<string, unknown> | undefined
      )?.content,
    );
  } else if (body.kind === 'dsse' && Array.isArray(spec.signatures)) {
    for (const s of spec.signatures.slice(0, 16))
      materials.push((s as Record<string, unknown> | null)?.verifier);
  }
  const out = new Set<string>();
  for (const m of materials) {
    try {
      for (const s of parseVerifierMaterial(m, 'verifier').subjects) out.add(s);
    } catch {
      // not a certificate: no identity
    }
  }
  return [...out];
}

/**
 * One monitoring round: fetch the log's signed checkpoint, verify it with the pinned key (pinning
 * it on the first run), check it is an append-only extension of the last checkpoint seen
 * (same origin; size never shrinks; same size ⇒ same root; larger ⇒ a consistency proof that
 * verifies), and with `identity` report new entries whose certificate SANs match. On any
 * inconsistency the old state is kept, so the alert repeats until someone looks.
 */
export async function checkLog(opts: CheckOptions): Promise<CheckResult> {
  const { client } = opts;
  const info = await client.logInfo();
  const pem = opts.state?.publicKeyPem ?? (await client.publicKey());
  const key = createPublicKey(pem);
  const prev = opts.state;
  const alert = (kind: AlertKind, message: string): CheckResult => ({
    state: prev!,
    alerts: [{ kind, message }],
    consistent: false,
  });
  let cp: Checkpoint;
  try {
    cp = verifiedCheckpoint(info.signedTreeHead, key);
  } catch (e) {
    if (!prev) throw e;
    return alert('bad-signature', `checkpoint does not verify: ${(e as Error).message}`);
  }
  if (cp.size !== info.treeSize || cp.rootHash.toString('hex') !== info.rootHash) {
    if (!prev)
      throw new SigilError('VERIFICATION_FAILED', 'the log info disagrees with its own signed checkpoint');
    return alert('fork', 'the log info disagrees with its own signed checkpoint');
  }
  const root = cp.rootHash.toString('hex');
  if (prev && cp.origin !== prev.origin) {
    // A rotation: the followed tree must be a frozen shard that extends what was seen; the new tree starts afresh.
    const finding = await checkRotation(client, info, key, prev, cp.origin);
    if (finding) return alert(finding.kind, finding.message);
  } else if (prev) {
    if (cp.size < prev.size) {
      return alert('rollback', `tree size went back from ${prev.size} to ${cp.size}`);
    }
    if (cp.size === prev.size && root !== prev.rootHash) {
      return alert('fork', `two different roots for tree size ${cp.size}: ${prev.rootHash} and ${root}`);
    }
    if (cp.size > prev.size && prev.size > 0) {
      const proof = await client.consistencyProof(prev.size, cp.size);
      const hashes = proof.hashes.map((h) => Buffer.from(h, 'hex'));
      const ok =
        proof.rootHash === root &&
        verifyConsistency(prev.size, cp.size, Buffer.from(prev.rootHash, 'hex'), cp.rootHash, hashes);
      if (!ok) {
        return alert(
          'fork',
          `tree of size ${cp.size} (root ${root}) is not an extension of size ${prev.size} (root ${prev.rootHash})`,
        );
      }
    }
  }
  // Identity checks walk global log indexes, which run on through the shards.
  const globalSize = (info.inactiveShards ?? []).reduce((n, s) => n + s.treeSize, 0) + cp.size;
  const state: MonitorState = {
    version: MONITOR_STATE_VERSION,
    publicKeyPem: pem,
    origin: cp.origin,
    size: cp.size,
    rootHash: root,
    signedTreeHead: info.signedTreeHead,
    identityCheckedUpTo: prev?.identityCheckedUpTo ?? globalSize,
  };
  const alerts: Alert[] = [];
  if (opts.identity) {
    const end = Math.min(globalSize, state.identityCheckedUpTo + MAX_IDENTITY_ENTRIES_PER_RUN);
    for (let i = state.identityCheckedUpTo; i < end; i += RETRIEVE_BATCH) {
      const indexes = Array.from({ length: Math.min(RETRIEVE_BATCH, end - i) }, (_, j) => i + j);
      const entries = await client.retrieveEntries({ logIndexes: indexes });
      for (const e of entries.sort((a, b) => a.logIndex - b.logIndex)) {
        const subjects = entrySubjects(e.body).filter((s) => opts.identity!.test(s));
        if (subjects.length > 0) {
          alerts.push({
            kind: 'identity',
            logIndex: e.logIndex,
            subjects,
            message: `entry ${e.logIndex} (${e.uuid}) is signed for ${subjects.join(', ')}`,
          });
        }
      }
    }
    state.identityCheckedUpTo = end;
  } else {
    state.identityCheckedUpTo = globalSize;
  }
  return { state, alerts, consistent: true };
}
