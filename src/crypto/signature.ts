import { createHash, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { defaultHashFor, keyKind } from './keys.js';
import { signDigestEc } from './prehashed.js';

/** Signs data with the key's default hash (ECDSA → DER signature, through the addon; Ed25519 pure). */
export function signData(privateKey: KeyObject, data: Uint8Array): Buffer {
  const kind = keyKind(privateKey);
  const hash = defaultHashFor(kind);
  if (kind.startsWith('ecdsa-') && hash !== null)
    return signDigestEc(privateKey, createHash(hash).update(data).digest());
  return nodeSign(hash, data, privateKey);
}

/** Verifies a signature over data with the key's default hash; never throws. */
export function verifyData(
  publicKey: KeyObject,
  data: Uint8Array,
  signature: Uint8Array,
  hash?: string,
): boolean {
  try {
    const kind = keyKind(publicKey);
    return nodeVerify(hash ?? defaultHashFor(kind), data, publicKey, signature);
  } catch {
    return false;
  }
}
