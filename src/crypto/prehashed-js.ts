import { createRequire } from 'node:module';
import { createPrivateKey, createPublicKey, type JsonWebKey } from 'node:crypto';

/** What native/ecdsa_prehashed.c exports (see prehashed.ts). */
export interface NativeAddon {
  parseKey(spkiDer: Buffer): unknown;
  parseEcPoint(bits: 256 | 384 | 521, point: Buffer): unknown;
  verify(key: unknown, digest: Buffer, signature: Buffer): boolean;
  parsePrivateEcKey(pkcs8Der: Buffer): unknown;
  signDigest(key: unknown, digest: Buffer): Buffer;
}

type Nist = typeof import('@noble/curves/nist.js');
type Curve = Nist['p256'];
interface PublicHandle {
  curve: Curve | undefined;
  point: Uint8Array;
}
interface PrivateHandle {
  curve: Curve;
  scalar: Uint8Array;
}

/**
 * The addon's contract in JavaScript (@noble/curves), for installs where native/ could not be
 * built (no C compiler). Same inputs, same answers: DER signatures, the digest taken as is
 * (no hashing), high-S accepted as OpenSSL does; several times slower (see the README).
 */
export function createJsAddon(): NativeAddon {
  // Loaded only on this path (require(esm), Node >= 20.19): the addon's users never pay for it.
  const nist = createRequire(import.meta.url)('@noble/curves/nist.js') as Nist;
  const byBits = { 256: nist.p256, 384: nist.p384, 521: nist.p521 } as const;
  const byCrv: Record<string, Curve> = { 'P-256': nist.p256, 'P-384': nist.p384, 'P-521': nist.p521 };
  const b64u = (s: string | undefined): Uint8Array => Buffer.from(s ?? '', 'base64url');
  const uncompressed = (jwk: JsonWebKey, size: number): Uint8Array =>
    Buffer.concat([Buffer.from([4]), pad(b64u(jwk.x), size), pad(b64u(jwk.y), size)]);
  const onCurve = (curve: Curve, point: Uint8Array): Uint8Array => {
    curve.Point.fromBytes(point).assertValidity();
    return point;
  };
  return {
    parseKey(spkiDer): PublicHandle {
      const key = createPublicKey({ key: spkiDer, format: 'der', type: 'spki' });
      if (key.asymmetricKeyType !== 'ec') return { curve: undefined, point: new Uint8Array() };
      const jwk = key.export({ format: 'jwk' });
      const curve = byCrv[jwk.crv ?? ''];
      if (!curve) throw new Error('public key does not parse');
      return {
        curve,
        point: onCurve(curve, uncompressed(jwk, (curve.lengths.publicKeyUncompressed! - 1) >> 1)),
      };
    },
    parseEcPoint(bits, point): PublicHandle {
      const curve = byBits[bits];
      if (point.length !== curve.lengths.publicKeyUncompressed || point[0] !== 4)
        throw new Error('not an uncompressed point of a NIST curve');
      return { curve, point: onCurve(curve, point) };
    },
    verify(handle, digest, signature): boolean {
      const { curve, point } = handle as PublicHandle;
      if (!curve) return false;
      try {
        return curve.verify(signature, digest, point, { prehash: false, lowS: false, format: 'der' });
      } catch {
        return false;
      }
    },
    parsePrivateEcKey(pkcs8Der): PrivateHandle {
      const jwk = createPrivateKey({ key: pkcs8Der, format: 'der', type: 'pkcs8' }).export({ format: 'jwk' });
      const curve = byCrv[jwk.crv ?? ''];
      if (!curve) throw new Error('private key is not a NIST-curve EC key');
      return { curve, scalar: pad(b64u(jwk.d), curve.lengths.secretKey!) };
    },
    signDigest(handle, digest): Buffer {
      const { curve, scalar } = handle as PrivateHandle;
      return Buffer.from(curve.sign(digest, scalar, { prehash: false, format: 'der' }));
    },
  };
}

function pad(b: Uint8Array, size: number): Uint8Array {
  if (b.length >= size) return b;
  const out = new Uint8Array(size);
  out.set(b, size - b.length);
  return out;
}
