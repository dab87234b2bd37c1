import { preAuthEncoding, sha256 } from '../crypto/index.js';
import { createBundleV03, type Bundle, type TransparencyLogEntry } from '../bundle/index.js';
import type { DsseEnvelopeJson, Signature, Signer, Witness } from './types.js';
import type { Timestamper } from './timestamp.js';

export interface SignedMessage {
  signature: Signature;
  digest: Buffer;
  /** Empty when no witness was asked (upload refused). */
  tlogEntries: TransparencyLogEntry[];
  bundle: Bundle;
}

export interface SignedEnvelope {
  envelope: DsseEnvelopeJson;
  signature: Signature;
  tlogEntries: TransparencyLogEntry[];
  bundle: Bundle;
}

function verificationMaterial(s: Signature): { certificate: Buffer } | { publicKeyHint: string } {
  return s.material.kind === 'certificate'
    ? { certificate: s.material.leaf }
    : { publicKeyHint: s.material.hint };
}

/** Signer + witnesses → Sigstore bundle v0.3 (messageSignature or dsseEnvelope). */
export class BundleBuilder {
  constructor(
    private readonly signer: Signer,
    private readonly witnesses: readonly Witness[],
    private readonly timestampers: readonly Timestamper[] = [],
  ) {}

  /** RFC 3161 timestamps over the raw signature bytes, taken before the log entry is made. */
  private async timestamps(signature: Signature): Promise<Buffer[]> {
    const out: Buffer[] = [];
    for (const t of this.timestampers) out.push(await t.timestamp(signature.signature));
    return out;
  }

  /** Signs the bytes (SHA-256) and logs a hashedrekord entry. */
  async message(data: Uint8Array): Promise<SignedMessage> {
    const digest = sha256(data);
    const signature = await this.signer.sign(data);
    const rfc3161Timestamps = await this.timestamps(signature);
    const tlogEntries: TransparencyLogEntry[] = [];
    for (const w of this.witnesses) tlogEntries.push(await w.testifyMessage({ digest, signature }));
    const bundle = createBundleV03({
      ...verificationMaterial(signature),
      tlogEntries,
      rfc3161Timestamps,
      content: {
        kind: 'messageSignature',
        messageDigest: { algorithm: 'SHA2_256', digest },
        signature: signature.signature,
      },
    });
    return { signature, digest, tlogEntries, bundle };
  }

  /** Signs PAE(payloadType, payload) and logs a dsse entry. */
  async dsse(payloadType: string, payload: Uint8Array): Promise<SignedEnvelope> {
    const signature = await this.signer.sign(preAuthEncoding(payloadType, payload));
    const envelope: DsseEnvelopeJson = {
      payloadType,
      payload: Buffer.from(payload).toString('base64'),
      signatures: [{ keyid: '', sig: signature.signature.toString('base64') }],
    };
    const rfc3161Timestamps = await this.timestamps(signature);
    const tlogEntries: TransparencyLogEntry[] = [];
    for (const w of this.witnesses) tlogEntries.push(await w.testifyDsse({ envelope, signature }));
    const bundle = createBundleV03({
      ...verificationMaterial(signature),
      tlogEntries,
      rfc3161Timestamps,
      content: {
        kind: 'dsseEnvelope',
        envelope: {
          payloadType,
          payload: Buffer.from(payload),
          signatures: [{ keyid: '', sig: signature.signature }],
        },
      },
    });
    return { envelope, signature, tlogEntries, bundle };
  }
}
