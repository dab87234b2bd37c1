import { sign, type KeyObject } from 'node:crypto';
import { bitString, oid, seq, tlv, tlvOf, utf8String, DER_NULL } from '../../src/x509/build.js';

/** AlgorithmIdentifiers for certificate signatures, by name, with the hash node:crypto signs with. */
export const ALGS = {
  'ecdsa-sha256': { der: seq(oid('1.2.840.10045.4.3.2')), hash: 'sha256' },
  'ecdsa-sha384': { der: seq(oid('1.2.840.10045.4.3.3')), hash: 'sha384' },
  'ecdsa-sha512': { der: seq(oid('1.2.840.10045.4.3.4')), hash: 'sha512' },
  'ecdsa-sha256-null-params': { der: seq(oid('1.2.840.10045.4.3.2'), DER_NULL), hash: 'sha256' },
  'rsa-sha256': { der: seq(oid('1.2.840.113549.1.1.11'), DER_NULL), hash: 'sha256' },
  ed25519: { der: seq(oid('1.3.101.112')), hash: null },
} as const;
export type AlgName = keyof typeof ALGS;

export const name = (cn: string | Buffer): Buffer =>
  seq(tlvOf(0x31, [seq(oid('2.5.4.3'), Buffer.isBuffer(cn) ? cn : utf8String(cn))]));

export interface RawCertSpec {
  issuerName: Buffer;
  subjectName: Buffer;
  spki: Buffer;
  alg: AlgName;
  signingKey: KeyObject;
  /** Replaces the encoded version element ([0] EXPLICIT INTEGER 2). */
  version?: Buffer;
}

export function rawTbs(s: RawCertSpec): Buffer {
  const validity = seq(tlv(0x17, Buffer.from('240101000000Z')), tlv(0x17, Buffer.from('340101000000Z')));
  return seq(
    s.version ?? tlv(0xa0, tlv(0x02, Buffer.from([2]))),
    tlv(0x02, Buffer.from([0x01, 0x23])),
    ALGS[s.alg].der,
    s.issuerName,
    validity,
    s.subjectName,
    s.spki,
  );
}

/** A certificate built byte by byte (no extensions), signed with node:crypto. */
export function rawCertificate(s: RawCertSpec, unusedBits = 0): Buffer {
  const tbs = rawTbs(s);
  const sig = sign(ALGS[s.alg].hash, tbs, s.signingKey);
  return seq(tbs, ALGS[s.alg].der, bitString(sig, unusedBits));
}
