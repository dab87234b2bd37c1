import { SigilError } from '../errors/index.js';
import { spkiDer, toPem } from '../crypto/index.js';
import { tlogEntryFromRekor, type TransparencyLogEntry } from '../bundle/index.js';
import { checkEntryBody } from '../verify/index.js';
import type { RekorClient } from '../rekor/client.js';
import type { DsseEnvelopeJson, KeyMaterial, Progress, Signature, Witness } from './types.js';

/** The key as a log entry names it: PEM certificate (keyless) or PEM public key. */
export function materialPem(m: KeyMaterial): string {
  return m.kind === 'certificate' ? toPem('CERTIFICATE', m.leaf) : toPem('PUBLIC KEY', spkiDer(m.publicKey));
}

export function signerDer(m: KeyMaterial): Buffer {
  return m.kind === 'certificate' ? m.leaf : spkiDer(m.publicKey);
}

/** Fails unless the log's `entry` records `signature` over the SHA-256 `digest` (what was submitted). */
export function checkMessageEntry(entry: TransparencyLogEntry, digest: Buffer, signature: Signature): void {
  checkEntryBody(entry, {
    content: {
      kind: 'messageSignature',
      messageDigest: { algorithm: 'SHA2_256', digest },
      signature: signature.signature,
    },
    signerDer: signerDer(signature.material),
    messageDigestHex: digest.toString('hex'),
    messageDigestAlgorithm: 'SHA2_256',
  });
}

/** Fails unless the log's `entry` records `envelope` signed by `material` (what was submitted). */
export function checkDsseEntry(
  entry: TransparencyLogEntry,
  envelope: DsseEnvelopeJson,
  material: KeyMaterial,
): void {
  checkEntryBody(entry, {
    content: {
      kind: 'dsseEnvelope',
      envelope: {
        payload: Buffer.from(envelope.payload, 'base64'),
        payloadType: envelope.payloadType,
        signatures: envelope.signatures.map((s) => ({ sig: Buffer.from(s.sig, 'base64'), keyid: s.keyid })),
      },
    },
    signerDer: signerDer(material),
  });
}

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');

/**
 * The transparency log as a witness: hashedrekord entries for message signatures, dsse entries
 * for envelopes. The returned entry's body is cross-checked against what was submitted, so a
 * log that records something else fails here rather than at verification time.
 */
export function logWitness(client: RekorClient, progress?: Progress): Witness {
  const submit = async (proposed: unknown): Promise<TransparencyLogEntry> => {
    const created = await client.createEntry(proposed);
    progress?.(`tlog entry created with index: ${created.logIndex}`);
    return tlogEntryFromRekor(created);
  };
  return {
    async testifyMessage({
      digest,
      signature,
    }: {
      digest: Buffer;
      signature: Signature;
    }): Promise<TransparencyLogEntry> {
      if (digest.length !== 32)
        throw new SigilError('INVALID_INPUT', 'hashedrekord entries take a SHA-256 digest');
      const entry = await submit({
        apiVersion: '0.0.1',
        kind: 'hashedrekord',
        spec: {
          signature: {
            content: b64(signature.signature),
            publicKey: { content: b64(materialPem(signature.material)) },
          },
          data: { hash: { algorithm: 'sha256', value: digest.toString('hex') } },
        },
      });
      checkMessageEntry(entry, digest, signature);
      return entry;
    },
    async testifyDsse({
      envelope,
      signature,
    }: {
      envelope: DsseEnvelopeJson;
      signature: Signature;
    }): Promise<TransparencyLogEntry> {
      const entry = await submit({
        apiVersion: '0.0.1',
        kind: 'dsse',
        spec: {
          proposedContent: {
            envelope: JSON.stringify(envelope),
            verifiers: [b64(materialPem(signature.material))],
          },
        },
      });
      checkDsseEntry(entry, envelope, signature.material);
      return entry;
    },
  };
}
