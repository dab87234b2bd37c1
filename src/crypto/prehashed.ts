import { createRequire } from 'node:module';
import { createHash, type KeyObject } from 'node:crypto';
import { keyKind, spkiDer } from './keys.js';
import { SigilError } from '../errors/index.js';

/**
 * Signature verification over a precomputed digest (hashedrekord carries only the digest).
 * node:crypto always hashes its input, so ECDSA and RSA go through a small N-API addon over
 * OpenSSL's EVP_PKEY_verify (native/ecdsa_prehashed.c), built by `npm ci`.
 */
interface NativeAddon {
  parseKey(spkiDer: Buffer): unknown;
  verify(key: unknown, digest: Buffer, signature: Buffer): boolean;
}

let addon: NativeAddon | undefined;

function loadAddon(): NativeAddon {
  if (addon) return addon;
  const require = createRequire(import.meta.url);
  try {
    addon = require('../../native/build/Release/sigil_native.node') as NativeAddon;
  } catch (e) {
    throw new SigilError('INTERNAL', 'native verifier missing: run `npm ci` (builds native/)', { cause: e });
  }
  return addon;
}

/** A public key parsed once for many prehashed verifications. */
export class PrehashedVerifier {
  private readonly handle: unknown;
  readonly kind: ReturnType<typeof keyKind>;

  constructor(key: KeyObject) {
    this.kind = keyKind(key);
    this.handle = this.kind === 'ed25519' ? undefined : loadAddon().parseKey(spkiDer(key));
  }

  /** RSA here means PKCS#1 v1.5 with the digest wrapped by OpenSSL (no DigestInfo): not used by Sigstore. */
  verify(digest: Uint8Array, signature: Uint8Array): boolean {
    if (this.kind === 'ed25519' || this.kind === 'rsa') return false;
    return loadAddon().verify(this.handle, Buffer.from(digest), Buffer.from(signature));
  }
}

export function verifyPrehashed(key: KeyObject, digest: Uint8Array, signature: Uint8Array): boolean {
  return new PrehashedVerifier(key).verify(digest, signature);
}

export const sha256Of = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();
