import { createHash, randomBytes, sign as nodeSign, type KeyObject } from 'node:crypto';
import { CT, EKU_CODE_SIGNING, EXT } from './oids.js';

/*
 * Issuance of Fulcio-profile leaf certificates (WIRE §1.6) by direct DER writing. The leaf
 * profile is fixed, so a small writer keeps issuance at thousands per second (a generic ASN.1
 * schema serializer costs ~0.2 ms per extension). CA certificates are made with @peculiar/x509
 * (src/ca/keys.ts); leaves are checked against @peculiar/x509 and node:crypto parsers in tests.
 */

// ---- DER writer -------------------------------------------------------------------------

function headerSize(n: number): number {
  return n < 0x80 ? 2 : n < 0x100 ? 3 : n < 0x10000 ? 4 : 5;
}

function writeHeader(out: Buffer, tag: number, n: number): number {
  out[0] = tag;
  if (n < 0x80) {
    out[1] = n;
    return 2;
  }
  const len = headerSize(n) - 2;
  out[1] = 0x80 | len;
  for (let i = 0; i < len; i++) out[2 + i] = (n >>> (8 * (len - 1 - i))) & 0xff;
  return 2 + len;
}

/** One allocation per element: tag, minimal DER length, then the contents in order. */
export function tlvOf(tag: number, parts: readonly Uint8Array[]): Buffer {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = Buffer.allocUnsafe(headerSize(n) + n);
  let at = writeHeader(out, tag, n);
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function tlv(tag: number, content: Uint8Array): Buffer {
  return tlvOf(tag, [content]);
}

export const seq = (...items: Uint8Array[]): Buffer => tlvOf(0x30, items);
export const octetString = (b: Uint8Array): Buffer => tlv(0x04, b);
export const utf8String = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));
export const bitString = (b: Uint8Array, unused = 0): Buffer =>
  tlv(0x03, Buffer.concat([Buffer.from([unused]), b]));
export const DER_NULL = Buffer.from([0x05, 0x00]);
const DER_TRUE = Buffer.from([0x01, 0x01, 0xff]);

const oidCache = new Map<string, Buffer>();

/** DER OBJECT IDENTIFIER (memoized: the same few OIDs recur in every certificate). */
export function oid(dotted: string): Buffer {
  let hit = oidCache.get(dotted);
  if (!hit) {
    hit = encodeOid(dotted);
    if (oidCache.size < 1024) oidCache.set(dotted, hit);
  }
  return hit;
}

function encodeOid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const first = arcs[0]! * 40 + arcs[1]!;
  const bytes: number[] = [];
  for (const arc of [first, ...arcs.slice(2)]) {
    const chunk: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** A positive INTEGER from big-endian unsigned bytes (minimal encoding). */
export function unsignedInteger(b: Uint8Array): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const v = Buffer.from(b.subarray(i));
  return tlv(0x02, v[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
}

function time(d: Date): Buffer {
  const iso = d.toISOString();
  const y = d.getUTCFullYear();
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '');
  return y >= 1950 && y < 2050
    ? tlv(0x17, Buffer.from(`${digits.slice(2)}Z`))
    : tlv(0x18, Buffer.from(`${digits}Z`));
}

// ---- extensions -------------------------------------------------------------------------

/** One X.509 extension: OID, criticality and the DER extnValue contents. */
export interface Extension {
  oid: string;
  critical: boolean;
  value: Buffer;
}

export function encodeExtension(e: Extension): Buffer {
  const value = tlv(0x04, e.value);
  return e.critical ? tlvOf(0x30, [oid(e.oid), DER_TRUE, value]) : tlvOf(0x30, [oid(e.oid), value]);
}

/** keyUsage digitalSignature only (bit 0). */
export const keyUsageDigitalSignature = (): Extension => ({
  oid: EXT.keyUsage,
  critical: true,
  value: bitString(Buffer.from([0x80]), 7),
});

export const extKeyUsageCodeSigning = (): Extension => ({
  oid: EXT.extKeyUsage,
  critical: false,
  value: seq(oid(EKU_CODE_SIGNING)),
});

export const subjectKeyId = (keyId: Uint8Array): Extension => ({
  oid: EXT.subjectKeyId,
  critical: false,
  value: octetString(keyId),
});

export const authorityKeyId = (keyId: Uint8Array): Extension => ({
  oid: EXT.authorityKeyId,
  critical: false,
  value: seq(tlv(0x80, keyId)),
});

export type SanValue =
  { kind: 'email' | 'uri'; value: string } | { kind: 'otherName'; value: string; typeId: string };

/** A single-name SAN; critical because the subject is empty. */
export function subjectAltName(san: SanValue): Extension {
  let name: Buffer;
  switch (san.kind) {
    case 'email':
      name = tlv(0x81, Buffer.from(san.value, 'utf8'));
      break;
    case 'uri':
      name = tlv(0x86, Buffer.from(san.value, 'utf8'));
      break;
    case 'otherName':
      name = tlv(0xa0, Buffer.concat([oid(san.typeId), tlv(0xa0, utf8String(san.value))]));
      break;
  }
  return { oid: EXT.subjectAltName, critical: true, value: seq(name) };
}

/** CT precertificate poison: critical, ASN.1 NULL. */
export const ctPoison = (): Extension => ({ oid: CT.poison, critical: true, value: DER_NULL });

/** Key identifier as Go computes it: SHA-1 of the subjectPublicKey BIT STRING contents. */
export function keyIdentifier(spkiDer: Uint8Array): Buffer {
  return createHash('sha1')
    .update(subjectPublicKeyBits(Buffer.from(spkiDer)))
    .digest();
}

function subjectPublicKeyBits(spki: Buffer): Buffer {
  // SEQUENCE { AlgorithmIdentifier, BIT STRING }: skip the outer header and the algorithm.
  const outer = headerLength(spki, 0);
  const algLen = headerLength(spki, outer) + elementLength(spki, outer);
  const bitsAt = outer + algLen;
  const contentAt = bitsAt + headerLength(spki, bitsAt);
  return spki.subarray(contentAt + 1, bitsAt + headerLength(spki, bitsAt) + elementLength(spki, bitsAt));
}

function headerLength(b: Buffer, at: number): number {
  const l = b[at + 1]!;
  return l < 0x80 ? 2 : 2 + (l & 0x7f);
}

function elementLength(b: Buffer, at: number): number {
  const l = b[at + 1]!;
  if (l < 0x80) return l;
  let n = 0;
  for (let i = 0; i < (l & 0x7f); i++) n = n * 256 + b[at + 2 + i]!;
  return n;
}

// ---- certificates ------------------------------------------------------------------------

export const SIG_ALGS = {
  'ecdsa-sha256': { oid: '1.2.840.10045.4.3.2', hash: 'sha256' },
  'ecdsa-sha384': { oid: '1.2.840.10045.4.3.3', hash: 'sha384' },
} as const;
export type SigAlg = keyof typeof SIG_ALGS;

export interface TbsParams {
  /** DER serial bytes (positive, as produced by randomSerial). */
  serial: Buffer;
  sigAlg: SigAlg;
  /** DER Name of the issuer (the issuing certificate's subject, byte for byte). */
  issuerName: Buffer;
  /** DER Name of the subject; an empty SEQUENCE for Fulcio leaves. */
  subjectName: Buffer;
  notBefore: Date;
  notAfter: Date;
  spkiDer: Buffer;
  /** Extensions, or their DER encodings (encodeExtension) when reused across TBSs. */
  extensions: readonly (Extension | Buffer)[];
}

/** Random positive 160-bit serial (top bit clear, second bit set so the DER stays 20 bytes). */
let randomPool = Buffer.alloc(0);
let randomAt = 0;

export function randomSerial(): Buffer {
  if (randomAt + 20 > randomPool.length) {
    randomPool = randomBytes(20 * 512);
    randomAt = 0;
  }
  const b = Buffer.from(randomPool.subarray(randomAt, (randomAt += 20)));
  b[0] = (b[0]! & 0x7f) | 0x40;
  return b;
}

export const EMPTY_NAME = seq();

export function encodeTbs(p: TbsParams): Buffer {
  const alg = seq(oid(SIG_ALGS[p.sigAlg].oid));
  return seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))),
    unsignedInteger(p.serial),
    alg,
    p.issuerName,
    seq(time(p.notBefore), time(p.notAfter)),
    p.subjectName,
    p.spkiDer,
    tlv(
      0xa3,
      tlvOf(
        0x30,
        p.extensions.map((e) => (Buffer.isBuffer(e) ? e : encodeExtension(e))),
      ),
    ),
  );
}

/** Wraps a TBS with the signature: Certificate ::= SEQUENCE { tbs, algorithm, BIT STRING }. */
export function assembleCertificate(tbs: Buffer, sigAlg: SigAlg, signature: Buffer): Buffer {
  return seq(tbs, seq(oid(SIG_ALGS[sigAlg].oid)), bitString(signature));
}

export function signTbsSync(tbs: Buffer, sigAlg: SigAlg, key: KeyObject): Buffer {
  return assembleCertificate(tbs, sigAlg, nodeSign(SIG_ALGS[sigAlg].hash, tbs, key));
}

/** Signs on libuv's thread pool, so several issuances use several cores. */
export function signTbs(tbs: Buffer, sigAlg: SigAlg, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    nodeSign(SIG_ALGS[sigAlg].hash, tbs, key, (err, sig) => {
      if (err) reject(err);
      else resolve(assembleCertificate(tbs, sigAlg, sig));
    });
  });
}

/** Signs arbitrary bytes on the thread pool with the key's hash for sigAlg (DER ECDSA). */
export function signAsync(data: Buffer, hash: string, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    nodeSign(hash, data, key, (err, sig) => (err ? reject(err) : resolve(sig)));
  });
}

export function sigAlgFor(key: KeyObject): SigAlg {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType === 'ec' && curve === 'prime256v1') return 'ecdsa-sha256';
  if (key.asymmetricKeyType === 'ec' && curve === 'secp384r1') return 'ecdsa-sha384';
  throw new Error(`unsupported CA key (${key.asymmetricKeyType} ${curve ?? ''}); use P-256 or P-384`);
}

/** DER bytes of the top-level elements inside a SEQUENCE (no validation: for our own certificates). */
export function sequenceElements(der: Buffer, at = 0): Buffer[] {
  const start = at + headerLength(der, at);
  const end = start + elementLength(der, at);
  const out: Buffer[] = [];
  for (let p = start; p < end;) {
    const len = headerLength(der, p) + elementLength(der, p);
    out.push(der.subarray(p, p + len));
    p += len;
  }
  return out;
}

/** The subject Name DER of one of our certificates, byte for byte. */
export function certificateSubjectDer(certDer: Buffer): Buffer {
  const tbs = sequenceElements(certDer)[0]!;
  const fields = sequenceElements(tbs);
  const offset = fields[0]![0] === 0xa0 ? 1 : 0;
  return fields[offset + 4]!;
}
