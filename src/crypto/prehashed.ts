import { createRequire } from 'node:module';
import { createHash, type KeyObject } from 'node:crypto';
import { isMainThread } from 'node:worker_threads';
import { keyKind, spkiDer, type KeyKind } from './keys.js';
import { createJsAddon, type NativeAddon } from './prehashed-js.js';

/**
 * Signature verification over a precomputed digest (hashedrekord carries only the digest).
 * node:crypto always hashes its input, so ECDSA and RSA go through a small N-API addon over
 * OpenSSL's EVP_PKEY_verify (native/ecdsa_prehashed.c), built by `npm ci` (prehashed-js.ts without it).
 */
let addon: NativeAddon | undefined;
let native = false;

/**
 * The addon, or its pure-JS twin (one warning on stderr) when it was not built, e.g. installed
 * without a C compiler. SIGIL_NATIVE=0 picks the JS path on purpose (tests, benchmarks).
 */
function loadAddon(): NativeAddon {
  if (addon) return addon;
  if (process.env.SIGIL_NATIVE === '0') return (addon = createJsAddon());
  try {
    addon = createRequire(import.meta.url)('../../native/build/Release/sigil_native.node') as NativeAddon;
    native = true;
  } catch {
    if (isMainThread)
      process.stderr.write(
        'sigil: warning: native addon not built (native/build/Release/sigil_native.node): using the slower pure-JS ECDSA path\n',
      );
    addon = createJsAddon();
  }
  return addon;
}

/** Whether signDigestEc and the verifiers run in the native addon (false: the pure-JS twin). */
export function nativeAddonLoaded(): boolean {
  loadAddon();
  return native;
}

/** A public key parsed once for many prehashed verifications. */
export class PrehashedVerifier {
  private readonly handle: unknown;
  readonly kind: KeyKind;

  constructor(key: KeyObject | { ec: EcSpki }) {
    if ('ec' in key) {
      this.kind = key.ec.kind;
      this.handle = loadAddon().parseEcPoint(key.ec.bits, key.ec.point);
      return;
    }
    this.kind = keyKind(key);
    this.handle = this.kind === 'ed25519' ? undefined : loadAddon().parseKey(spkiDer(key));
  }

  /** RSA here means PKCS#1 v1.5 with the digest wrapped by OpenSSL (no DigestInfo): not used by Sigstore. */
  verify(digest: Uint8Array, signature: Uint8Array): boolean {
    if (this.kind === 'ed25519' || this.kind === 'rsa') return false;
    return loadAddon().verify(this.handle, Buffer.from(digest), Buffer.from(signature));
  }
}

/** A NIST-curve public key in the one DER form Go's x509.MarshalPKIXPublicKey writes. */
export interface EcSpki {
  kind: 'ecdsa-p256' | 'ecdsa-p384' | 'ecdsa-p521';
  bits: 256 | 384 | 521;
  /** The uncompressed point (0x04 ‖ X ‖ Y). */
  point: Buffer;
}

// SEQUENCE { SEQUENCE { id-ecPublicKey, namedCurve }, BIT STRING (0 unused bits) 0x04… }
const EC_SPKI_PREFIXES: readonly {
  prefix: Buffer;
  kind: EcSpki['kind'];
  bits: EcSpki['bits'];
  pointLength: number;
}[] = [
  {
    prefix: Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex'),
    kind: 'ecdsa-p256',
    bits: 256,
    pointLength: 65,
  },
  {
    prefix: Buffer.from('3076301006072a8648ce3d020106052b81040022036200', 'hex'),
    kind: 'ecdsa-p384',
    bits: 384,
    pointLength: 97,
  },
  {
    prefix: Buffer.from('30819b301006072a8648ce3d020106052b8104002303818600', 'hex'),
    kind: 'ecdsa-p521',
    bits: 521,
    pointLength: 133,
  },
];

/**
 * The curve and point of a DER SPKI when it is exactly the canonical encoding of an uncompressed
 * NIST-curve key (then the DER is its own canonical form); undefined for anything else, which
 * takes the general (slower) parse. The point is checked to be on the curve when a verifier is made.
 */
export function canonicalEcSpki(der: Uint8Array): EcSpki | undefined {
  for (const f of EC_SPKI_PREFIXES) {
    if (der.length !== f.prefix.length + f.pointLength) continue;
    const d = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
    if (!d.subarray(0, f.prefix.length).equals(f.prefix) || d[f.prefix.length] !== 0x04) return undefined;
    return { kind: f.kind, bits: f.bits, point: Buffer.from(d.subarray(f.prefix.length)) };
  }
  return undefined;
}

export function verifyPrehashed(key: KeyObject, digest: Uint8Array, signature: Uint8Array): boolean {
  return new PrehashedVerifier(key).verify(digest, signature);
}

const ecSigners = new WeakMap<KeyObject, unknown>();

/**
 * ECDSA over `digest` (the data's hash, computed by the caller with the curve's hash) with an EC
 * private key parsed once per KeyObject into the addon: node:crypto's sign() builds a fresh
 * OpenSSL context per call, and the log signs a SET per entry. The key's DER export is wiped
 * after parsing; the parsed key lives only in memory and is freed with the KeyObject.
 */
export function signDigestEc(privateKey: KeyObject, digest: Uint8Array): Buffer {
  let handle = ecSigners.get(privateKey);
  if (handle === undefined) {
    const der = privateKey.export({ type: 'pkcs8', format: 'der' });
    try {
      handle = loadAddon().parsePrivateEcKey(der);
    } finally {
      der.fill(0);
    }
    ecSigners.set(privateKey, handle);
  }
  return loadAddon().signDigest(handle, Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength));
}

export const sha256Of = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();
