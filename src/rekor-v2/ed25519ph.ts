import { createHash } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { eddsa } from '@noble/curves/abstract/edwards.js';

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

const sha512 = (m: Uint8Array): Uint8Array => new Uint8Array(createHash('sha512').update(m).digest());

/** RFC 8032 dom2 with the prehash flag (Ed25519ph, empty context). */
function dom2(data: Uint8Array, ctx: Uint8Array, phflag: boolean): Uint8Array {
  return Buffer.concat([
    Buffer.from('SigEd25519 no Ed25519 collisions', 'latin1'),
    Buffer.from([phflag ? 1 : 0, ctx.length]),
    ctx,
    data,
  ]);
}

/**
 * Ed25519ph over a SHA-512 digest the caller already has (hashedrekord logs only the digest):
 * noble's ed25519ph hashes the message itself, so the prehash step here is the identity.
 */
const ed25519phOverDigest = eddsa(ed25519.Point, sha512, {
  domain: dom2,
  prehash: (m: Uint8Array) => m,
  zip215: false,
});

export function verifyEd25519ph(spki: Buffer, digest: Buffer, sig: Buffer): boolean {
  if (spki.length !== 44 || !spki.subarray(0, 12).equals(ED25519_SPKI_PREFIX)) return false;
  if (digest.length !== 64 || sig.length !== 64) return false;
  try {
    return ed25519phOverDigest.verify(sig, digest, spki.subarray(12));
  } catch {
    return false;
  }
}
