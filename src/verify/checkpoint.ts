import { SigilError } from '../errors/index.js';
import { verifyData } from '../crypto/index.js';
import { parseCheckpoint, parseSignedNote, type Checkpoint, type SignedNote } from '../bundle/index.js';
import type { LogKey, TrustMaterial } from './trust.js';
import { verifyCosignatures, type WitnessPolicy } from './witness.js';

function fail(message: string): never {
  throw new SigilError('CHECKPOINT_INVALID', `checkpoint: ${message}`);
}

/** Verified checkpoints per trust material (a checkpoint is a fact about the log, shared by many entries). */
const cache = new WeakMap<TrustMaterial, Map<string, Checkpoint>>();
const MAX_CACHED = 1024;

/** Rekor v1 names its tree `<host> - <treeID>`; Rekor v2 (C2SP tlog-tiles) names it `<host>`. */
function originMatches(origin: string, names: readonly string[]): boolean {
  return names.some(
    (host) =>
      origin === host || (origin.startsWith(`${host} - `) && /^\d+$/.test(origin.slice(host.length + 3))),
  );
}

/**
 * One signature line per (name, key hint) of a trusted key of the log must verify; lines of
 * unknown keys (witnesses, other logs) are ignored, and a line of a known key that fails is an error.
 */
function logSigned(note: SignedNote, keys: readonly LogKey[]): boolean {
  const data = Buffer.from(note.text, 'utf8');
  let ok = false;
  for (const s of note.signatures) {
    for (const k of keys) {
      if (!k.noteNames.includes(s.name) || !s.keyHint.equals(k.checkpointKeyHint)) continue;
      if (!verifyData(k.publicKey, data, s.signature))
        fail(`the signature of ${s.name} does not verify with the log key`);
      ok = true;
    }
  }
  return ok;
}

/**
 * Parses and verifies a signed checkpoint of the log (keys: the log's keys from the trusted
 * root), the origin naming the log; witness cosignatures too when a policy asks for them.
 * Throws CHECKPOINT_INVALID.
 */
export function verifyCheckpoint(
  envelope: string,
  keys: readonly LogKey[],
  trust: TrustMaterial,
  witnesses?: WitnessPolicy,
): Checkpoint {
  let perTrust = cache.get(trust);
  if (!perTrust) cache.set(trust, (perTrust = new Map()));
  const cacheKey = `${keys[0]?.logId.toString('hex')}\n${envelope}`;
  const hit = witnesses ? undefined : perTrust.get(cacheKey);
  if (hit) return hit;
  let note: SignedNote;
  let cp: Checkpoint;
  try {
    note = parseSignedNote(envelope);
    cp = parseCheckpoint(note.text);
  } catch (e) {
    fail((e as Error).message);
  }
  const names = keys[0]!.noteNames;
  const host = names[0]!;
  if (!originMatches(cp.origin, names))
    fail(`the origin ${JSON.stringify(cp.origin)} does not name the log ${host}`);
  if (!logSigned(note, keys)) fail(`no signature line of the log ${host} with a trusted key`);
  if (witnesses) verifyCosignatures(note, witnesses);
  if (perTrust.size >= MAX_CACHED) perTrust.clear();
  perTrust.set(cacheKey, cp);
  return cp;
}
