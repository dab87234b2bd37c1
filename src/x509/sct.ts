import { SigilError } from '../errors/index.js';
import { children, decodeOid, encodeTlv, readTlv } from './der.js';

/**
 * RFC 6962 signed certificate timestamps for precertificates, as Fulcio embeds them
 * (WIRE.md §1.6). Pure byte handling: the CA signs `sctSignedData(...)`, a verifier rebuilds it
 * from the final certificate with `tbsWithoutExtension(cert, CT.sctList)`.
 */
export interface Sct {
  version: number;
  logId: Buffer;
  /** Milliseconds since the epoch. */
  timestamp: bigint;
  extensions: Buffer;
  hashAlgorithm: number;
  signatureAlgorithm: number;
  signature: Buffer;
}

export const SCT_HASH_SHA256 = 4;
export const SCT_SIG_ECDSA = 3;
export const MAX_SCTS = 32;

const fail = (what: string): SigilError => new SigilError('INVALID_CERTIFICATE', `malformed SCT: ${what}`);

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u24(n: number): Buffer {
  if (n > 0xffffff) throw fail('TBS too large');
  return Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
}

function u64(n: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
}

/** The bytes a CT log signs for a precert entry (RFC 6962 §3.2 digitally-signed struct). */
export function sctSignedData(p: {
  timestamp: bigint;
  issuerKeyHash: Uint8Array;
  tbs: Uint8Array;
  extensions?: Uint8Array;
}): Buffer {
  const ext = Buffer.from(p.extensions ?? new Uint8Array());
  if (p.issuerKeyHash.length !== 32) throw fail('issuer key hash must be 32 bytes');
  return Buffer.concat([
    Buffer.from([0, 0]), // version v1, signature_type certificate_timestamp
    u64(p.timestamp),
    u16(1), // entry_type precert_entry
    Buffer.from(p.issuerKeyHash),
    u24(p.tbs.length),
    Buffer.from(p.tbs),
    u16(ext.length),
    ext,
  ]);
}

export function serializeSct(s: Sct): Buffer {
  if (s.logId.length !== 32) throw fail('log id must be 32 bytes');
  return Buffer.concat([
    Buffer.from([s.version]),
    s.logId,
    u64(s.timestamp),
    u16(s.extensions.length),
    s.extensions,
    Buffer.from([s.hashAlgorithm, s.signatureAlgorithm]),
    u16(s.signature.length),
    s.signature,
  ]);
}

export function parseSct(b: Buffer): Sct {
  if (b.length < 1 + 32 + 8 + 2 + 2 + 2) throw fail('too short');
  let p = 0;
  const version = b[p++]!;
  const logId = b.subarray(p, (p += 32));
  const timestamp = b.readBigUInt64BE(p);
  p += 8;
  const extLen = b.readUInt16BE(p);
  p += 2;
  if (p + extLen + 4 > b.length) throw fail('extensions past end');
  const extensions = b.subarray(p, (p += extLen));
  const hashAlgorithm = b[p++]!;
  const signatureAlgorithm = b[p++]!;
  const sigLen = b.readUInt16BE(p);
  p += 2;
  if (p + sigLen !== b.length) throw fail('signature length mismatch');
  return {
    version,
    logId,
    timestamp,
    extensions,
    hashAlgorithm,
    signatureAlgorithm,
    signature: b.subarray(p),
  };
}

/** TLS SignedCertificateTimestampList: u16 total, then u16-length-prefixed SCTs. */
export function serializeSctList(scts: readonly Sct[]): Buffer {
  const items = scts.map((s) => {
    const b = serializeSct(s);
    return Buffer.concat([u16(b.length), b]);
  });
  const body = Buffer.concat(items);
  return Buffer.concat([u16(body.length), body]);
}

export function parseSctList(b: Buffer): Sct[] {
  if (b.length < 2 || b.readUInt16BE(0) !== b.length - 2) throw fail('list length mismatch');
  const out: Sct[] = [];
  for (let p = 2; p < b.length;) {
    if (p + 2 > b.length) throw fail('truncated list');
    const len = b.readUInt16BE(p);
    p += 2;
    if (p + len > b.length) throw fail('entry past end');
    out.push(parseSct(b.subarray(p, p + len)));
    p += len;
    if (out.length > MAX_SCTS) throw fail('too many SCTs');
  }
  return out;
}

/** X.509 extension value (extnValue contents) of the SCT-list extension: an OCTET STRING of the TLS list. */
export function sctListExtensionValue(scts: readonly Sct[]): Buffer {
  return encodeTlv(0x04, serializeSctList(scts));
}

export function parseSctListExtensionValue(der: Buffer): Sct[] {
  const t = readTlv(der, 0);
  if (t.tag !== 0x04 || t.end !== der.length) throw fail('extension value is not an OCTET STRING');
  return parseSctList(der.subarray(t.contentStart, t.end));
}

/**
 * The DER TBSCertificate of `certDer` with the extension `oid` removed, byte-exact otherwise.
 * For a final Fulcio leaf and oid = SCT list this equals the precertificate TBS without poison.
 */
export function tbsWithoutExtension(certDer: Uint8Array, oid: string): Buffer {
  const buf = Buffer.from(certDer);
  const cert = readTlv(buf, 0);
  const tbs = children(buf, cert)[0];
  if (!tbs || tbs.tag !== 0x30)
    throw new SigilError('INVALID_CERTIFICATE', 'certificate has no TBSCertificate');
  const parts = children(buf, tbs);
  const rebuilt: Buffer[] = [];
  for (const part of parts) {
    if (part.tag !== 0xa3) {
      rebuilt.push(buf.subarray(part.start, part.end));
      continue;
    }
    const seq = children(buf, part)[0];
    if (!seq || seq.tag !== 0x30) throw new SigilError('INVALID_CERTIFICATE', 'malformed extensions');
    const kept = children(buf, seq).filter((ext) => {
      const id = children(buf, ext)[0];
      return !(id && id.tag === 0x06 && decodeOid(buf.subarray(id.contentStart, id.end)) === oid);
    });
    if (kept.length > 0) {
      const inner = encodeTlv(0x30, Buffer.concat(kept.map((k) => buf.subarray(k.start, k.end))));
      rebuilt.push(encodeTlv(0xa3, inner));
    }
  }
  return encodeTlv(0x30, Buffer.concat(rebuilt));
}

/** The raw extnValue contents of extension `oid` in a certificate, or undefined. */
export function extensionValue(certDer: Uint8Array, oid: string): Buffer | undefined {
  const buf = Buffer.from(certDer);
  const tbs = children(buf, readTlv(buf, 0))[0];
  if (!tbs) return undefined;
  for (const part of children(buf, tbs)) {
    if (part.tag !== 0xa3) continue;
    const seq = children(buf, part)[0];
    if (!seq) return undefined;
    for (const ext of children(buf, seq)) {
      const fields = children(buf, ext);
      const id = fields[0];
      const value = fields[fields.length - 1];
      if (id && value && id.tag === 0x06 && decodeOid(buf.subarray(id.contentStart, id.end)) === oid) {
        if (value.tag !== 0x04)
          throw new SigilError('INVALID_CERTIFICATE', 'extension value is not an OCTET STRING');
        return buf.subarray(value.contentStart, value.end);
      }
    }
  }
  return undefined;
}
