import type { KeyObject } from 'node:crypto';
import type { TransparencyLogEntry } from '../bundle/index.js';

/** Who vouches for the signing key: a CA certificate (keyless) or a bare public key (key file). */
export type KeyMaterial =
  | { kind: 'certificate'; leaf: Buffer; chain: Buffer[]; publicKey: KeyObject }
  | { kind: 'publicKey'; publicKey: KeyObject; hint: string };

export interface Signature {
  signature: Buffer;
  material: KeyMaterial;
}

/** Signs bytes (with SHA-256 for ECDSA/RSA keys). One signer may sign several times. */
export interface Signer {
  sign(data: Uint8Array): Promise<Signature>;
}

export interface DsseEnvelopeJson {
  payloadType: string;
  /** base64 */
  payload: string;
  signatures: { keyid: string; sig: string }[];
}

/** Records a signature somewhere public and returns the proof (the transparency log). */
export interface Witness {
  /** A hashedrekord entry: the SHA-256 digest of the signed bytes, the signature, the key. */
  testifyMessage(input: { digest: Buffer; signature: Signature }): Promise<TransparencyLogEntry>;
  /** A dsse entry for a DSSE envelope. */
  testifyDsse(input: { envelope: DsseEnvelopeJson; signature: Signature }): Promise<TransparencyLogEntry>;
}

/** Progress lines (stderr in the CLI); never given secrets. */
export type Progress = (line: string) => void;
