import type { KeyObject } from 'node:crypto';
import { spkiDer } from '../../src/crypto/index.js';
import type { IdentifiedLogEntry } from '../../src/rekor/log-entry.js';

const hexToB64 = (h: string): string => Buffer.from(h, 'hex').toString('base64');

/** WIRE §4.3: a Rekor v1 LogEntry → protobuf-JSON TransparencyLogEntry. */
export function toTlogEntry(e: IdentifiedLogEntry): Record<string, unknown> {
  const body = JSON.parse(Buffer.from(e.body, 'base64').toString('utf8')) as {
    kind: string;
    apiVersion: string;
  };
  const p = e.verification.inclusionProof;
  return {
    logIndex: String(e.logIndex),
    logId: { keyId: hexToB64(e.logID) },
    kindVersion: { kind: body.kind, version: body.apiVersion },
    integratedTime: String(e.integratedTime),
    inclusionPromise: { signedEntryTimestamp: e.verification.signedEntryTimestamp },
    inclusionProof: {
      logIndex: String(p.logIndex),
      rootHash: hexToB64(p.rootHash),
      treeSize: String(p.treeSize),
      hashes: p.hashes.map(hexToB64),
      checkpoint: { envelope: p.checkpoint },
    },
    canonicalizedBody: e.body,
  };
}

/** Bundle v0.3 with a message signature, verified by a public key named by `hint`. */
export function publicKeyBundle(
  e: IdentifiedLogEntry,
  digest: Buffer,
  signature: Buffer,
  hint: string,
): Record<string, unknown> {
  return {
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: {
      publicKey: { hint },
      tlogEntries: [toTlogEntry(e)],
      timestampVerificationData: { rfc3161Timestamps: [] },
    },
    messageSignature: {
      messageDigest: { algorithm: 'SHA2_256', digest: digest.toString('base64') },
      signature: signature.toString('base64'),
    },
  };
}

/** A trusted_root.json listing only this log. */
export function trustedRoot(
  baseUrl: string,
  logPublicKey: KeyObject,
  logIdHex: string,
): Record<string, unknown> {
  return {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [
      {
        baseUrl,
        hashAlgorithm: 'SHA2_256',
        publicKey: {
          rawBytes: spkiDer(logPublicKey).toString('base64'),
          keyDetails: 'PKIX_ECDSA_P256_SHA_256',
          validFor: { start: '2020-01-01T00:00:00Z' },
        },
        logId: { keyId: hexToB64(logIdHex) },
      },
    ],
    certificateAuthorities: [],
    ctlogs: [],
    timestampAuthorities: [],
  };
}
