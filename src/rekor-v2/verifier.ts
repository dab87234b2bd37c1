import { constants, createHash, publicDecrypt, type KeyObject } from 'node:crypto';
import { SigilError } from '../errors/index.js';
import {
  VerifyingKey,
  assertStrongKey,
  parseCertificateDer,
  spkiDer,
  verifyData,
  type HashName,
  type KeyKind,
} from '../crypto/index.js';
import type { FieldReader, Json } from '../bundle/protojson.js';
import { verifyEd25519ph } from './ed25519ph.js';
import { strictObject } from './protojson.js';

/** DER certificates and keys above this are refused (a Fulcio leaf is ~1 KB, RSA-4096 SPKI 550 B). */
export const MAX_VERIFIER_DER = 16 * 1024;

/** protobuf-specs PublicKeyDetails rekor-tiles accepts (internal/algorithmregistry), with the key and hash each names. */
const ALLOWED: Record<string, { kind: KeyKind; hash: HashName }> = {
  PKIX_RSA_PKCS1V15_2048_SHA256: { kind: 'rsa', hash: 'sha256' },
  PKIX_RSA_PKCS1V15_3072_SHA256: { kind: 'rsa', hash: 'sha256' },
  PKIX_RSA_PKCS1V15_4096_SHA256: { kind: 'rsa', hash: 'sha256' },
  PKIX_ECDSA_P256_SHA_256: { kind: 'ecdsa-p256', hash: 'sha256' },
  PKIX_ECDSA_P384_SHA_384: { kind: 'ecdsa-p384', hash: 'sha384' },
  PKIX_ECDSA_P521_SHA_512: { kind: 'ecdsa-p521', hash: 'sha512' },
  PKIX_ED25519_PH: { kind: 'ed25519', hash: 'sha512' },
};

/** HashAlgorithm enum names of the logged `data.algorithm`. */
export const HASH_ENUM: Record<HashName, string> = {
  sha256: 'SHA2_256',
  sha384: 'SHA2_384',
  sha512: 'SHA2_512',
};

const DIGEST_INFO: Record<HashName, Buffer> = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};

/** A request's Verifier, parsed and checked against its keyDetails. */
export interface ParsedVerifier {
  key: KeyObject | VerifyingKey;
  kind: KeyKind;
  hash: HashName;
  /** The DER the request named (a certificate or an SPKI): what the entry logs. */
  der: Buffer;
  /** The Verifier as the logged entry writes it (protojson). */
  json: Json;
  /** `json` as RFC 8785 text: its members are an enum name and base64, so it is assembled directly. */
  jcs: string;
}

function keyObject(k: KeyObject | VerifyingKey): KeyObject {
  return k instanceof VerifyingKey ? k.keyObject : k;
}

/**
 * A Verifier `{publicKey{rawBytes} | x509Certificate{rawBytes}, keyDetails}`: the DER must parse
 * exactly, keyDetails must be an allowed algorithm naming the key's type. Pure Ed25519 is refused
 * (hashedrekord verifies over a digest; rekor-tiles #927).
 */
export function parseVerifier(r: FieldReader, v: unknown): ParsedVerifier {
  const o = strictObject(r, v, ['publicKey', 'x509Certificate', 'keyDetails']);
  const details = r.at('keyDetails').string(o.keyDetails ?? '', 64);
  if (details === 'PKIX_ED25519')
    throw new SigilError(
      'INVALID_KEY',
      `${r.path}.keyDetails: pure Ed25519 (PKIX_ED25519) cannot sign a digest; use PKIX_ED25519_PH`,
    );
  const alg = ALLOWED[details];
  if (!alg)
    throw new SigilError(
      'INVALID_KEY',
      `${r.path}.keyDetails: ${details ? `${details.slice(0, 64)} is not an allowed algorithm` : 'is missing'} (allowed: ${Object.keys(ALLOWED).join(', ')})`,
    );
  if ((o.publicKey === undefined) === (o.x509Certificate === undefined))
    r.fail('must have exactly one of publicKey, x509Certificate');
  const field = o.publicKey !== undefined ? 'publicKey' : 'x509Certificate';
  const holder = strictObject(r.at(field), o[field], ['rawBytes']);
  const der = r.at(`${field}.rawBytes`).bytes(holder.rawBytes, MAX_VERIFIER_DER);
  if (der.length === 0) r.at(`${field}.rawBytes`).fail('is empty');
  let key: KeyObject | VerifyingKey;
  if (field === 'publicKey') {
    const vk = VerifyingKey.fromSpki(der);
    if (!vk.spki.equals(der)) r.at('publicKey.rawBytes').fail('is not a DER SubjectPublicKeyInfo');
    key = vk;
  } else {
    const cert = parseCertificateDer(der);
    if (!cert.raw.equals(der)) r.at('x509Certificate.rawBytes').fail('has bytes after the certificate');
    key = cert.publicKey;
  }
  const kind = key instanceof VerifyingKey ? key.assertStrong() : assertStrongKey(key);
  if (kind !== alg.kind)
    throw new SigilError('INVALID_KEY', `${r.path}.keyDetails: ${details} does not name a ${kind} key`);
  const rawBytes = der.toString('base64');
  return {
    key,
    kind,
    hash: alg.hash,
    der,
    json: { [field]: { rawBytes }, keyDetails: details },
    // JCS orders members by UTF-16 code units: keyDetails < publicKey, x509Certificate.
    jcs: `{"keyDetails":"${details}","${field}":{"rawBytes":"${rawBytes}"}}`,
  };
}

/** The signature over a precomputed digest (hashedrekord): ECDSA, RSA PKCS#1 v1.5, Ed25519ph. */
export function verifyOverDigest(v: ParsedVerifier, digest: Buffer, sig: Buffer): boolean {
  switch (v.kind) {
    case 'ecdsa-p256':
    case 'ecdsa-p384':
    case 'ecdsa-p521': {
      const vk = v.key instanceof VerifyingKey ? v.key : VerifyingKey.fromKeyObject(v.key);
      return vk.prehashedVerifier().verify(digest, sig);
    }
    case 'rsa':
      try {
        const recovered = publicDecrypt({ key: keyObject(v.key), padding: constants.RSA_PKCS1_PADDING }, sig);
        return recovered.equals(Buffer.concat([DIGEST_INFO[v.hash], digest]));
      } catch {
        return false;
      }
    case 'ed25519':
      return verifyEd25519ph(spkiDer(keyObject(v.key)), digest, sig);
  }
}

/** The signature over a message (a DSSE PAE) with the algorithm keyDetails names. */
export function verifyOverMessage(v: ParsedVerifier, message: Buffer, sig: Buffer): boolean {
  if (v.kind === 'ed25519')
    return verifyEd25519ph(spkiDer(keyObject(v.key)), createHash('sha512').update(message).digest(), sig);
  return verifyData(keyObject(v.key), message, sig, v.hash);
}
