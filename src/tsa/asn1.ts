import 'reflect-metadata';
import { AsnConvert, AsnObjectIdentifierConverter } from '@peculiar/asn1-schema';

/** Hash algorithms a TimeStampReq may name; only the SHA-2 ones are granted. */
export const HASH_OIDS = {
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
} as const;

export type TsaHash = keyof typeof HASH_OIDS;

export const HASH_BY_OID: ReadonlyMap<string, TsaHash> = new Map(
  Object.entries(HASH_OIDS).map(([name, oid]) => [oid, name as TsaHash]),
);

/**
 * PKIFailureInfo named bits (RFC 3161 §2.4.2), as flags `1 << bit` for asn1-tsp's PKIFailureInfo.
 * Not asn1-tsp's PKIFailureInfoFlags: those are one bit off for all but badAlg (its
 * unacceptedPolicy is bit 14, which OpenSSL reads as timeNotAvailable).
 */
export const FAILURE = {
  badAlg: 1 << 0,
  badRequest: 1 << 2,
  badDataFormat: 1 << 5,
  timeNotAvailable: 1 << 14,
  unacceptedPolicy: 1 << 15,
  unacceptedExtension: 1 << 16,
  systemFailure: 1 << 25,
} as const;

/** sigstore's timestamp-authority default policy (1.3.6.1.4.1.57264.2). */
export const DEFAULT_TSA_POLICY = '1.3.6.1.4.1.57264.2';

/** Minimal two's-complement big-endian bytes of a non-negative integer (an ASN.1 INTEGER's contents). */
export function integerBytes(n: bigint): Buffer {
  if (n < 0n) throw new RangeError('negative integer');
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  const b = Buffer.from(hex, 'hex');
  return b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b;
}

/**
 * DER INTEGER content: at least one byte, no redundant leading 0x00 or 0xff. The nonce is echoed
 * into the signed TSTInfo byte for byte, so anything else would make a token no parser reads.
 */
export function isMinimalInteger(b: Uint8Array): boolean {
  if (b.length === 0) return false;
  if (b.length === 1) return true;
  return !((b[0] === 0x00 && b[1]! < 0x80) || (b[0] === 0xff && b[1]! >= 0x80));
}

/** An ArrayBuffer holding exactly these bytes (asn1-schema wants ArrayBuffers). */
export function arrayBufferOf(b: Uint8Array): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

export const der = (value: unknown): Buffer => Buffer.from(AsnConvert.serialize(value));

/**
 * True when `buf` is exactly one DER SEQUENCE: a 0x30 tag, a definite length, and no bytes after
 * it (asn1-schema's parser ignores trailing data, which a request must not carry).
 */
export function isSingleSequence(buf: Uint8Array): boolean {
  if (buf.length < 2 || buf[0] !== 0x30) return false;
  const first = buf[1]!;
  if (first < 0x80) return 2 + first === buf.length;
  const n = first & 0x7f;
  if (n === 0 || n > 4 || buf.length < 2 + n) return false;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + buf[2 + i]!;
  return 2 + n + len === buf.length;
}

/** DER OBJECT IDENTIFIER (tag, length, content) of a dotted OID. */
export const oidDer = (oid: string): Buffer => Buffer.from(AsnObjectIdentifierConverter.toASN(oid).toBER());
