import type { KeyObject } from 'node:crypto';
import { parseCheckpoint, parseSignedNote, verifyNote, type Checkpoint } from '../bundle/signed-note.js';
import { sha256, spkiDer } from '../crypto/index.js';
import { SigilError } from '../errors/index.js';

/** The checkpoint of a signed note that the pinned log key signed (else INVALID_SIGNATURE). */
export function verifiedCheckpoint(signed: string, key: KeyObject): Checkpoint {
  const note = parseSignedNote(signed);
  const hint = sha256(spkiDer(key)).subarray(0, 4);
  const ok = note.signatures.some((s) => s.keyHint.equals(hint) && verifyNote(note, s.name, hint, key));
  if (!ok) throw new SigilError('INVALID_SIGNATURE', 'the checkpoint is not signed by the pinned log key');
  return parseCheckpoint(note.text);
}
