import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { SigilError } from '../errors/index.js';

export type KeyKind = 'ecdsa-p256' | 'ecdsa-p384' | 'ecdsa-p521' | 'ed25519' | 'rsa';

const CURVES: Record<string, KeyKind> = {
  prime256v1: 'ecdsa-p256',
  secp384r1: 'ecdsa-p384',
  secp521r1: 'ecdsa-p521',
};

export const MAX_PEM_BYTES = 64 * 1024;

/** PEM text blocks (type + DER) in order of appearance. */
export function pemBlocks(pem: string): { type: string; der: Buffer }[] {
  if (pem.length > MAX_PEM_BYTES * 16) throw new SigilError('TOO_LARGE', 'PEM input too large');
  const out: { type: string; der: Buffer }[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (const m of pem.matchAll(re)) {
    const body = (m[2] ?? '').replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw new SigilError('INVALID_INPUT', 'PEM body is not base64');
    out.push({ type: m[1] ?? '', der: Buffer.from(body, 'base64') });
  }
  return out;
}

/** Go-style pem.Encode: 64-character lines and a trailing newline. */
export function toPem(type: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${type}-----\n${lines.join('\n')}\n-----END ${type}-----\n`;
}

export function keyKind(key: KeyObject): KeyKind {
  const t = key.asymmetricKeyType;
  if (t === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve ?? '';
    const kind = CURVES[curve];
    if (!kind) throw new SigilError('WEAK_KEY', `unsupported elliptic curve ${curve || '(unknown)'}`);
    return kind;
  }
  if (t === 'ed25519') return 'ed25519';
  if (t === 'rsa') return 'rsa';
  throw new SigilError('INVALID_KEY', `unsupported key type ${t ?? '(unknown)'}`);
}

/** Refuses keys a signing service must not accept: unknown curves, RSA < 2048 or > 4096, e ≠ 65537. */
export function assertStrongKey(key: KeyObject): KeyKind {
  const kind = keyKind(key);
  if (kind === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    const e = key.asymmetricKeyDetails?.publicExponent;
    if (bits < 2048 || bits > 4096 || bits % 8 !== 0)
      throw new SigilError('WEAK_KEY', `RSA key of ${bits} bits is not allowed (2048–4096)`);
    if (e !== undefined && e !== 65537n)
      throw new SigilError('WEAK_KEY', 'RSA public exponent must be 65537');
  }
  return kind;
}

export function publicKeyFromDer(der: Uint8Array): KeyObject {
  try {
    return createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
  } catch (e) {
    throw new SigilError('INVALID_KEY', 'public key does not parse', { cause: e });
  }
}

/**
 * A public key from PEM ("PUBLIC KEY" or "CERTIFICATE") or DER SPKI.
 * Returns the certificate too when the input was one.
 */
export function parsePublicKeyOrCertificate(input: Uint8Array | string): {
  key: KeyObject;
  certificate?: X509Certificate;
} {
  const text = typeof input === 'string' ? input : Buffer.from(input).toString('latin1');
  if (text.includes('-----BEGIN')) {
    const blocks = pemBlocks(text);
    const first = blocks[0];
    if (!first) throw new SigilError('INVALID_KEY', 'no PEM block found');
    if (first.type === 'CERTIFICATE') {
      const certificate = parseCertificateDer(first.der);
      return { key: keyOfCertificate(certificate), certificate };
    }
    if (first.type === 'PUBLIC KEY') return { key: publicKeyFromDer(first.der) };
    throw new SigilError('INVALID_KEY', `unexpected PEM block ${first.type}`);
  }
  const der = typeof input === 'string' ? Buffer.from(input, 'latin1') : Buffer.from(input);
  try {
    return { key: publicKeyFromDer(der) };
  } catch {
    const certificate = parseCertificateDer(der);
    return { key: keyOfCertificate(certificate), certificate };
  }
}

/** X509Certificate parses its key lazily: a corrupt SPKI inside a parseable certificate throws here. */
function keyOfCertificate(certificate: X509Certificate): KeyObject {
  try {
    return certificate.publicKey;
  } catch (e) {
    throw new SigilError('INVALID_CERTIFICATE', 'certificate public key does not parse', { cause: e });
  }
}

export function parseCertificateDer(der: Uint8Array): X509Certificate {
  try {
    return new X509Certificate(Buffer.from(der));
  } catch (e) {
    throw new SigilError('INVALID_CERTIFICATE', 'certificate does not parse', { cause: e });
  }
}

export function spkiDer(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

export function publicKeyPem(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'pem' }).toString();
}

export function generateP256(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

export function privateKeyFromPem(pem: string, passphrase?: string): KeyObject {
  try {
    return createPrivateKey(passphrase === undefined ? { key: pem } : { key: pem, passphrase });
  } catch (e) {
    throw new SigilError('INVALID_KEY', 'private key does not parse (wrong password?)', { cause: e });
  }
}

/** The hash that goes with a key kind in Sigstore's algorithm registry. */
export function defaultHashFor(kind: KeyKind): 'sha256' | 'sha384' | 'sha512' | null {
  switch (kind) {
    case 'ecdsa-p256':
    case 'rsa':
      return 'sha256';
    case 'ecdsa-p384':
      return 'sha384';
    case 'ecdsa-p521':
      return 'sha512';
    case 'ed25519':
      return null;
  }
}
