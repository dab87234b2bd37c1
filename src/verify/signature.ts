import type { KeyObject } from 'node:crypto';
import { SigilError } from '../errors/index.js';
import { VerifyingKey, digest, preAuthEncoding, type HashName } from '../crypto/index.js';
import type { BundleContent, HashAlgorithm } from '../bundle/index.js';

export const HASH_NAMES: Record<HashAlgorithm, HashName> = {
  SHA2_256: 'sha256',
  SHA2_384: 'sha384',
  SHA2_512: 'sha512',
};

const verifyingKeys = new WeakMap<KeyObject, VerifyingKey>();

function verifyingKeyOf(key: KeyObject | VerifyingKey): VerifyingKey {
  if (key instanceof VerifyingKey) return key;
  let v = verifyingKeys.get(key);
  if (!v) verifyingKeys.set(key, (v = VerifyingKey.fromKeyObject(key)));
  return v;
}

function fail(message: string): never {
  throw new SigilError('SIGNATURE_MISMATCH', `signature: ${message}`);
}

/**
 * Verifies the bundle's signature with the signer's key: a message signature over the artifact
 * (or, when only its digest is known, over that digest), or a DSSE
 * signature over PAE(payloadType, payload).
 */
export function verifyContentSignature(
  content: BundleContent,
  signerKey: KeyObject | VerifyingKey,
  artifact: Uint8Array | undefined,
  messageDigest: { algorithm: HashAlgorithm; digest: Buffer } | undefined,
): void {
  const key = verifyingKeyOf(signerKey);
  if (content.kind === 'dsseEnvelope') {
    const env = content.envelope;
    if (env.signatures.length !== 1) fail('a DSSE envelope must carry exactly one signature');
    if (!key.verify(preAuthEncoding(env.payloadType, env.payload), env.signatures[0]!.sig)) {
      fail('the DSSE envelope signature does not verify with the signing key');
    }
    return;
  }
  const kind = key.kind;
  if (artifact !== undefined) {
    const hash =
      kind === 'ed25519' ? undefined : messageDigest ? HASH_NAMES[messageDigest.algorithm] : undefined;
    if (!key.verify(artifact, content.signature, hash))
      fail('the message signature does not verify over the artifact');
    return;
  }
  if (!messageDigest) fail('neither the artifact nor its digest is known');
  if (kind === 'ed25519' || kind === 'rsa')
    fail(`a ${kind} signature can only be checked over the artifact itself`);
  if (!key.verifyDigest(messageDigest.digest, content.signature))
    fail('the message signature does not verify over the artifact digest');
}

/** Digest of the artifact with the bundle's algorithm. */
export function artifactDigest(algorithm: HashAlgorithm, artifact: Uint8Array): Buffer {
  return digest(HASH_NAMES[algorithm], artifact);
}
