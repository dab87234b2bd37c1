import { createHash, type KeyObject } from 'node:crypto';
import { SigilError } from '../errors/index.js';
import type { HashName } from './digest.js';
import { assertStrongKey, defaultHashFor, keyKind, publicKeyFromDer, spkiDer, type KeyKind } from './keys.js';
import { PrehashedVerifier, canonicalEcSpki } from './prehashed.js';
import { verifyData } from './signature.js';

const RAW_HASHES = new Set<string>(['sha256', 'sha384', 'sha512']);
const CACHE_CAPACITY = 512;

/**
 * A public key for verification that avoids OpenSSL 3's decoder framework when it can: a
 * NIST-curve key in canonical DER goes to the native verifier as a raw point (checked to be on
 * the curve at construction, ~20 µs instead of ~150 µs), and a KeyObject is made only if
 * something asks for one. Other keys (RSA, Ed25519, non-canonical encodings) take the general parse.
 */
export class VerifyingKey {
  private object: KeyObject | undefined;
  private der: Buffer | undefined;
  private readonly raw: PrehashedVerifier | undefined;
  private prehashed: PrehashedVerifier | undefined;

  private constructor(init: { object?: KeyObject; der?: Buffer; raw?: PrehashedVerifier }) {
    this.object = init.object;
    this.der = init.der;
    this.raw = init.raw;
  }

  /** Parses a DER SubjectPublicKeyInfo; throws INVALID_KEY (off-curve points included). */
  static fromSpki(input: Uint8Array): VerifyingKey {
    const der = Buffer.from(input);
    const cacheKey = der.toString('latin1');
    const hit = cache.get(cacheKey);
    if (hit) return hit;
    const ec = canonicalEcSpki(der);
    let key: VerifyingKey;
    if (ec) {
      let raw: PrehashedVerifier;
      try {
        raw = new PrehashedVerifier({ ec });
      } catch (e) {
        throw new SigilError('INVALID_KEY', 'public key does not parse', { cause: e });
      }
      key = new VerifyingKey({ der, raw });
    } else {
      key = new VerifyingKey({ object: publicKeyFromDer(der) });
    }
    if (cache.size >= CACHE_CAPACITY) cache.delete(cache.keys().next().value as string);
    cache.set(cacheKey, key);
    return key;
  }

  static fromKeyObject(key: KeyObject): VerifyingKey {
    return new VerifyingKey({ object: key });
  }

  /** Throws WEAK_KEY / INVALID_KEY for key types Sigstore does not use. */
  get kind(): KeyKind {
    return this.raw?.kind ?? keyKind(this.keyObject);
  }

  /** keyKind, refusing RSA < 2048 or > 4096 bits and e ≠ 65537 (assertStrongKey). */
  assertStrong(): KeyKind {
    return this.raw?.kind ?? assertStrongKey(this.keyObject);
  }

  /** A verifier over precomputed digests (the raw point's, or one made from the KeyObject once). */
  prehashedVerifier(): PrehashedVerifier {
    return this.raw ?? (this.prehashed ??= new PrehashedVerifier(this.keyObject));
  }

  /** An ECDSA key on a NIST curve (verifyDigest applies). */
  get isEcdsa(): boolean {
    if (this.raw) return true;
    try {
      return this.kind.startsWith('ecdsa-');
    } catch {
      return false;
    }
  }

  get keyObject(): KeyObject {
    return (this.object ??= publicKeyFromDer(this.der!));
  }

  /** DER SPKI: the canonical encoding (for a raw key, the input, which is its own canonical form). */
  get spki(): Buffer {
    return (this.der ??= spkiDer(this.object!));
  }

  /** Verifies a signature over data with `hash` (default: the key's); never throws. */
  verify(data: Uint8Array, signature: Uint8Array, hash?: string): boolean {
    if (!this.raw) return verifyData(this.keyObject, data, signature, hash);
    const h = hash ?? defaultHashFor(this.raw.kind)!;
    if (!RAW_HASHES.has(h)) return verifyData(this.keyObject, data, signature, hash);
    return this.verifyDigest(
      createHash(h as HashName)
        .update(data)
        .digest(),
      signature,
    );
  }

  /** ECDSA over a precomputed digest; false for RSA and Ed25519 keys; never throws. */
  verifyDigest(digest: Uint8Array, signature: Uint8Array): boolean {
    try {
      return this.prehashedVerifier().verify(digest, signature);
    } catch {
      return false;
    }
  }
}

/** Keys repeat (intermediates carried in every bundle): parsed keys by SPKI bytes, bounded. */
const cache = new Map<string, VerifyingKey>();
