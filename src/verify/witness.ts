import { createHash, verify, type KeyObject } from 'node:crypto';
import { SigilError } from '../errors/index.js';
import type { SignedNote } from '../bundle/index.js';

/** A witness (C2SP tlog-cosignature v1, Ed25519): its name and public key. */
export interface Witness {
  name: string;
  publicKey: KeyObject;
}

/** How many of the configured witnesses must have cosigned each checkpoint. */
export interface WitnessPolicy {
  witnesses: readonly Witness[];
  threshold: number;
}

export const MAX_WITNESSES = 64;
const MAX_COSIGNATURE_TIME = 2n ** 63n - 1n;

/** SHA-256(name || "\n" || 0x04 || Ed25519 key)[:4], the cosignature key ID. */
export function cosignatureKeyId(w: Witness): Buffer {
  const raw = w.publicKey.export({ format: 'jwk' }).x;
  if (w.publicKey.asymmetricKeyType !== 'ed25519' || typeof raw !== 'string')
    throw new SigilError('INVALID_KEY', `witness ${w.name}: cosignature keys are Ed25519`);
  return createHash('sha256')
    .update(`${w.name}\n`)
    .update(Buffer.from([0x04]))
    .update(Buffer.from(raw, 'base64url'))
    .digest()
    .subarray(0, 4);
}

/** The message a v1 cosignature signs: header, time line, then the checkpoint body. */
export function cosignedMessage(noteText: string, time: bigint): Buffer {
  return Buffer.from(`cosignature/v1\ntime ${time}\n${noteText}`, 'utf8');
}

/**
 * Counts the configured witnesses whose cosignature on the note verifies; fewer than the
 * threshold is CHECKPOINT_INVALID. A line of a configured witness that fails is an error;
 * lines of unknown keys are ignored.
 */
export function verifyCosignatures(note: SignedNote, policy: WitnessPolicy): number {
  const verified = new Set<string>();
  for (const w of policy.witnesses) {
    const id = cosignatureKeyId(w);
    for (const s of note.signatures) {
      if (s.name !== w.name || !s.keyHint.equals(id)) continue;
      const sig = s.signature;
      if (sig.length !== 8 + 64)
        throw witnessError(`cosignature of ${w.name} is not a timestamped Ed25519 signature`);
      const time = sig.readBigUInt64BE(0);
      const ok =
        time <= MAX_COSIGNATURE_TIME &&
        verify(null, cosignedMessage(note.text, time), w.publicKey, sig.subarray(8));
      if (!ok) throw witnessError(`cosignature of ${w.name} does not verify`);
      verified.add(w.name);
    }
  }
  if (verified.size < policy.threshold)
    throw witnessError(`${verified.size} of the required ${policy.threshold} witness cosignatures verified`);
  return verified.size;
}

function witnessError(m: string): SigilError {
  return new SigilError('CHECKPOINT_INVALID', `checkpoint: ${m}`);
}
