import type { KeyObject } from 'node:crypto';
import { SigilError } from '../errors/index.js';
import { sha256, signData, spkiDer, verifyData } from '../crypto/index.js';

/**
 * C2SP signed notes and tlog checkpoints, in the form Rekor v1 emits them:
 * body lines ending in "\n", a blank line, then "— <name> <b64(keyHint[4] || sig)>\n" lines.
 */
export interface NoteSignature {
  name: string;
  keyHint: Buffer;
  signature: Buffer;
}

export interface SignedNote {
  /** The signed text, including the trailing newline of its last line. */
  text: string;
  signatures: NoteSignature[];
}

export interface Checkpoint {
  origin: string;
  size: number;
  rootHash: Buffer;
  /** Extra non-empty body lines after the root hash (tolerated, rarely used). */
  extensions: string[];
}

export const MAX_NOTE_BYTES = 1024 * 1024;
export const MAX_NOTE_SIGNATURES = 100;
const EM_DASH = '\u2014';

export function parseSignedNote(envelope: string): SignedNote {
  if (typeof envelope !== 'string' || envelope.length > MAX_NOTE_BYTES) {
    throw new SigilError('INVALID_CHECKPOINT', 'signed note missing or too large');
  }
  const split = envelope.lastIndexOf('\n\n');
  if (split < 0) throw new SigilError('INVALID_CHECKPOINT', 'signed note has no signature block');
  const text = envelope.slice(0, split + 1);
  const sigBlock = envelope.slice(split + 2);
  if (!sigBlock.endsWith('\n'))
    throw new SigilError('INVALID_CHECKPOINT', 'signed note must end with a newline');
  const signatures: NoteSignature[] = [];
  for (const line of sigBlock.slice(0, -1).split('\n')) {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/]+={0,2})$/.exec(line);
    if (!m) throw new SigilError('INVALID_CHECKPOINT', 'malformed signature line in signed note');
    const raw = Buffer.from(m[2]!, 'base64');
    if (raw.length < 5) throw new SigilError('INVALID_CHECKPOINT', 'signature in signed note too short');
    signatures.push({ name: m[1]!, keyHint: raw.subarray(0, 4), signature: raw.subarray(4) });
    if (signatures.length > MAX_NOTE_SIGNATURES)
      throw new SigilError('INVALID_CHECKPOINT', 'too many note signatures');
  }
  if (signatures.length === 0) throw new SigilError('INVALID_CHECKPOINT', 'signed note has no signatures');
  return { text, signatures };
}

export function serializeSignedNote(note: SignedNote): string {
  const lines = note.signatures.map(
    (s) => `${EM_DASH} ${s.name} ${Buffer.concat([s.keyHint, s.signature]).toString('base64')}\n`,
  );
  return `${note.text}\n${lines.join('')}`;
}

export function formatCheckpoint(cp: Checkpoint): string {
  const ext = cp.extensions.map((l) => `${l}\n`).join('');
  return `${cp.origin}\n${cp.size}\n${cp.rootHash.toString('base64')}\n${ext}`;
}

export function parseCheckpoint(text: string): Checkpoint {
  const lines = text.split('\n');
  if (lines.length < 4 || lines[lines.length - 1] !== '') {
    throw new SigilError('INVALID_CHECKPOINT', 'checkpoint body must have origin, size and root hash lines');
  }
  const [origin, sizeText, rootText, ...rest] = lines.slice(0, -1);
  if (!origin) throw new SigilError('INVALID_CHECKPOINT', 'checkpoint origin is empty');
  if (!/^(0|[1-9][0-9]{0,15})$/.test(sizeText ?? ''))
    throw new SigilError('INVALID_CHECKPOINT', 'checkpoint size is not a decimal number');
  const rootHash = Buffer.from(rootText ?? '', 'base64');
  if (rootHash.length !== 32 || rootHash.toString('base64') !== rootText) {
    throw new SigilError('INVALID_CHECKPOINT', 'checkpoint root hash is not 32 bytes of base64');
  }
  if (rest.some((l) => l === ''))
    throw new SigilError('INVALID_CHECKPOINT', 'empty extension line in checkpoint');
  return { origin, size: Number(sizeText), rootHash, extensions: rest };
}

/** Key hint for ECDSA (and Rekor v1) note keys: SHA-256(DER SPKI)[0:4]. */
export function ecdsaKeyHint(publicKey: KeyObject): Buffer {
  return sha256(spkiDer(publicKey)).subarray(0, 4);
}

export function signNote(text: string, name: string, privateKey: KeyObject, keyHint: Buffer): string {
  const signature = signData(privateKey, Buffer.from(text, 'utf8'));
  return serializeSignedNote({ text, signatures: [{ name, keyHint, signature }] });
}

/**
 * True when at least one signature line carrying (name, keyHint) verifies with the key.
 * Lines of unknown keys are ignored; a known line that fails makes the note invalid.
 */
export function verifyNote(note: SignedNote, name: string, keyHint: Buffer, publicKey: KeyObject): boolean {
  let ok = false;
  for (const s of note.signatures) {
    if (s.name !== name || !s.keyHint.equals(keyHint)) continue;
    if (!verifyData(publicKey, Buffer.from(note.text, 'utf8'), s.signature)) return false;
    ok = true;
  }
  return ok;
}
