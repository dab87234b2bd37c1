import { isUtf8 } from 'node:buffer';
import { X509Certificate, type KeyObject } from 'node:crypto';
import { SigilError } from '../errors/index.js';
import { VerifyingKey } from '../crypto/verifying-key.js';
import { CT, EXT, FULCIO, RAW_VALUE_OIDS, type FulcioExtensionName } from './oids.js';
import {
  TAG,
  bytesOf,
  children,
  decodeBitString,
  decodeBoolean,
  decodeOid,
  decodeSmallInteger,
  decodeString,
  decodeTime,
  expectTag,
  readOnly,
  valueOf,
  type Tlv,
} from './der-read.js';

/** Read-side view of an X.509 certificate: everything verification and policy need. */
export interface ParsedCertificate {
  der: Buffer;
  /** The DER TBSCertificate (what the issuer signed). */
  tbs: Buffer;
  /** Node's certificate object, made on first use (OpenSSL's parse costs ~150 µs). */
  readonly x509: X509Certificate;
  /** The subject key as a KeyObject, made on first use; `key` verifies without one. */
  readonly publicKey: KeyObject;
  /** The subject key, parsed (and an EC point checked on its curve) when the certificate is. */
  key: VerifyingKey;
  /** DER SubjectPublicKeyInfo. */
  spki: Buffer;
  /** DER AlgorithmIdentifier of the issuer's signature (outer, equal to the inner one). */
  signatureAlgorithm: Buffer;
  /** The issuer's signature (BIT STRING). */
  signatureValue: { unused: number; bytes: Buffer };
  serialHex: string;
  /** Raw DER of the issuer and subject Names (compared bytewise when chaining). */
  issuerName: Buffer;
  subjectName: Buffer;
  notBefore: Date;
  notAfter: Date;
  extensions: CertificateExtension[];
  basicConstraints?: { ca: boolean; pathLen?: number };
  /** Key usage bit names present, when the extension is present. */
  keyUsage?: ReadonlySet<KeyUsageName>;
  extKeyUsage?: readonly string[];
  subjectAlternativeNames: GeneralName[];
  subjectKeyId?: Buffer;
  authorityKeyId?: Buffer;
  /** Fulcio extensions by name, decoded to text (.1–.6 raw bytes, .8 and later DER UTF8String). */
  fulcio: Partial<Record<FulcioExtensionName, string>>;
  /** OIDC issuer: extension .8 when present, else .1. */
  oidcIssuer?: string;
  /** TLS-encoded SignedCertificateTimestampList (the OCTET STRING content), when embedded. */
  sctList?: Buffer;
}

export interface CertificateExtension {
  oid: string;
  critical: boolean;
  /** The extnValue OCTET STRING content. */
  value: Buffer;
}

export type GeneralName =
  | { type: 'email' | 'dns' | 'uri'; value: string }
  | { type: 'ip'; value: string }
  | { type: 'otherName'; oid: string; value: string }
  | { type: 'directoryName'; value: string };

export type KeyUsageName =
  | 'digitalSignature'
  | 'nonRepudiation'
  | 'keyEncipherment'
  | 'dataEncipherment'
  | 'keyAgreement'
  | 'keyCertSign'
  | 'cRLSign'
  | 'encipherOnly'
  | 'decipherOnly';

const KEY_USAGE_BITS: KeyUsageName[] = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
];

export const MAX_CERTIFICATE_BYTES = 64 * 1024;
const MAX_SANS = 100;
const FULCIO_BY_OID = new Map<string, FulcioExtensionName>(
  Object.entries(FULCIO).map(([name, oid]) => [oid, name as FulcioExtensionName]),
);

function bad(message: string, cause?: unknown): SigilError {
  return new SigilError('INVALID_CERTIFICATE', message, cause === undefined ? undefined : { cause });
}

/** Parses a DER certificate; throws INVALID_CERTIFICATE on anything malformed. */
export function parseCertificate(input: Uint8Array): ParsedCertificate {
  const der = Buffer.from(input);
  if (der.length === 0 || der.length > MAX_CERTIFICATE_BYTES) throw bad('certificate is empty or too large');
  const cert = expectTag(readOnly(der), TAG.SEQUENCE, 'certificate');
  const [tbsTlv, sigAlg, sigValue, ...extra] = children(der, cert);
  if (!tbsTlv || !sigAlg || !sigValue || extra.length > 0) throw bad('certificate must have three parts');
  expectTag(tbsTlv, TAG.SEQUENCE, 'tbsCertificate');
  checkAlgorithmIdentifier(der, sigAlg);
  const signatureValue = decodeBitString(der, sigValue);
  const parts = children(der, tbsTlv);
  let i = 0;
  if (parts[0]?.tag === 0xa0) checkVersion(der, parts[i++]!);
  const serial = expectTag(need(parts[i++], 'serial'), TAG.INTEGER, 'serial');
  if (serial.end === serial.valueStart) throw bad('empty serial number');
  const innerSigAlg = expectTag(need(parts[i++], 'signature algorithm'), TAG.SEQUENCE, 'signature algorithm');
  if (!bytesOf(der, innerSigAlg).equals(bytesOf(der, sigAlg)))
    throw bad('inner and outer signature algorithms differ');
  const issuer = checkName(der, need(parts[i++], 'issuer'), 'issuer');
  const validity = expectTag(need(parts[i++], 'validity'), TAG.SEQUENCE, 'validity');
  const subject = checkName(der, need(parts[i++], 'subject'), 'subject');
  const spki = expectTag(need(parts[i++], 'subjectPublicKeyInfo'), TAG.SEQUENCE, 'subjectPublicKeyInfo');
  const [nb, na, ...moreTimes] = children(der, validity);
  if (!nb || !na || moreTimes.length > 0) throw bad('validity must have two times');
  let extensions: CertificateExtension[] = [];
  for (; i < parts.length; i++) {
    const p = parts[i]!;
    if (p.tag === 0xa3) extensions = parseExtensions(der, p);
    else if (p.tag !== 0x81 && p.tag !== 0x82 && p.tag !== 0xa1 && p.tag !== 0xa2)
      throw bad('unexpected field in tbsCertificate');
  }
  const spkiDer = bytesOf(der, spki);
  let key: VerifyingKey;
  try {
    key = VerifyingKey.fromSpki(spkiDer);
  } catch (e) {
    throw bad('certificate public key does not parse', e);
  }
  let x509: X509Certificate | undefined;
  const parsed: ParsedCertificate = {
    der,
    tbs: bytesOf(der, tbsTlv),
    get x509() {
      return (x509 ??= nodeCertificate(der));
    },
    get publicKey() {
      return key.keyObject;
    },
    key,
    spki: spkiDer,
    signatureAlgorithm: bytesOf(der, sigAlg),
    signatureValue,
    serialHex: valueOf(der, serial).toString('hex'),
    issuerName: bytesOf(der, issuer),
    subjectName: bytesOf(der, subject),
    notBefore: decodeTime(der, nb),
    notAfter: decodeTime(der, na),
    extensions,
    subjectAlternativeNames: [],
    fulcio: {},
  };
  applyExtensions(parsed);
  return parsed;
}

function nodeCertificate(der: Buffer): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch (e) {
    throw bad('certificate does not parse', e);
  }
}

/** [0] EXPLICIT Version: v1, v2 or v3. */
function checkVersion(der: Buffer, wrapper: Tlv): void {
  const [v, ...rest] = children(der, wrapper);
  if (!v || rest.length > 0 || decodeSmallInteger(der, v) > 2) throw bad('version');
}

/** AlgorithmIdentifier: SEQUENCE { OID, parameters OPTIONAL }. */
function checkAlgorithmIdentifier(der: Buffer, t: Tlv): void {
  const [oid, , ...rest] = children(der, expectTag(t, TAG.SEQUENCE, 'algorithm identifier'));
  decodeOid(der, need(oid, 'algorithm'));
  if (rest.length > 0) throw bad('algorithm identifier');
}

/** What OpenSSL's name parse converts to UTF-8 (and refuses when it cannot): UTF8, BMP and Universal strings. */
function convertibleString(der: Buffer, t: Tlv): boolean {
  const n = t.end - t.valueStart;
  if (t.tag === TAG.UTF8_STRING) return isUtf8(valueOf(der, t));
  if (t.tag === 0x1e) return n % 2 === 0;
  if (t.tag === 0x1c) return n % 4 === 0;
  return true;
}

/** Name: SEQUENCE OF RelativeDistinguishedName (SET OF { type OID, value }). */
function checkName(der: Buffer, t: Tlv, what: string): Tlv {
  for (const rdn of children(der, expectTag(t, TAG.SEQUENCE, what))) {
    const atvs = children(der, expectTag(rdn, TAG.SET, `${what} RDN`));
    if (atvs.length === 0) throw bad(`${what}: empty RDN`);
    for (const atv of atvs) {
      const [type, value, ...rest] = children(der, expectTag(atv, TAG.SEQUENCE, `${what} attribute`));
      decodeOid(der, need(type, `${what} attribute type`));
      if (!value || rest.length > 0 || !convertibleString(der, value)) throw bad(`${what} attribute`);
    }
  }
  return t;
}

function need(t: Tlv | undefined, what: string): Tlv {
  if (!t) throw bad(`tbsCertificate lacks ${what}`);
  return t;
}

function parseExtensions(der: Buffer, wrapper: Tlv): CertificateExtension[] {
  const [seq, ...rest] = children(der, wrapper);
  if (!seq || rest.length > 0) throw bad('extensions wrapper');
  const out: CertificateExtension[] = [];
  const seen = new Set<string>();
  for (const ext of children(der, expectTag(seq, TAG.SEQUENCE, 'extensions'))) {
    const f = children(der, expectTag(ext, TAG.SEQUENCE, 'extension'));
    const oid = decodeOid(der, need(f[0], 'extension id'));
    let critical = false;
    let valueTlv = f[1];
    if (f.length === 3) {
      critical = decodeBoolean(der, f[1]!);
      valueTlv = f[2];
    } else if (f.length !== 2) {
      throw bad('extension must have two or three fields');
    }
    const value = valueOf(
      der,
      expectTag(need(valueTlv, 'extension value'), TAG.OCTET_STRING, 'extension value'),
    );
    if (seen.has(oid)) throw bad(`duplicate extension ${oid}`);
    seen.add(oid);
    out.push({ oid, critical, value });
  }
  return out;
}

function applyExtensions(c: ParsedCertificate): void {
  for (const ext of c.extensions) {
    const v = ext.value;
    switch (ext.oid) {
      case EXT.basicConstraints:
        c.basicConstraints = parseBasicConstraints(v);
        break;
      case EXT.keyUsage:
        c.keyUsage = parseKeyUsage(v);
        break;
      case EXT.extKeyUsage: {
        const seq = expectTag(readOnly(v), TAG.SEQUENCE, 'extKeyUsage');
        c.extKeyUsage = children(v, seq).map((t) => decodeOid(v, t));
        break;
      }
      case EXT.subjectAltName:
        c.subjectAlternativeNames = parseGeneralNames(v);
        break;
      case EXT.subjectKeyId:
        c.subjectKeyId = valueOf(v, expectTag(readOnly(v), TAG.OCTET_STRING, 'subjectKeyIdentifier'));
        break;
      case EXT.authorityKeyId: {
        const seq = expectTag(readOnly(v), TAG.SEQUENCE, 'authorityKeyIdentifier');
        const kid = children(v, seq).find((t) => t.tag === 0x80);
        if (kid) c.authorityKeyId = valueOf(v, kid);
        break;
      }
      case CT.sctList:
        c.sctList = valueOf(v, expectTag(readOnly(v), TAG.OCTET_STRING, 'SCT list'));
        break;
      default: {
        const name = FULCIO_BY_OID.get(ext.oid);
        if (name && name !== 'otherName') c.fulcio[name] = fulcioValue(ext.oid, v);
      }
    }
  }
  c.oidcIssuer = c.fulcio.issuerV2 ?? c.fulcio.issuerV1;
}

/** Fulcio .1–.6 carry the raw string bytes; .8 and later a DER UTF8String. */
export function fulcioValue(oid: string, v: Buffer): string {
  if (RAW_VALUE_OIDS.has(oid)) return v.toString('utf8');
  return decodeString(v, readOnly(v));
}

function parseBasicConstraints(v: Buffer): { ca: boolean; pathLen?: number } {
  const seq = expectTag(readOnly(v), TAG.SEQUENCE, 'basicConstraints');
  const f = children(v, seq);
  let ca = false;
  let k = 0;
  if (f[k]?.tag === TAG.BOOLEAN) ca = decodeBoolean(v, f[k++]!);
  const out: { ca: boolean; pathLen?: number } = { ca };
  if (f[k]) out.pathLen = decodeSmallInteger(v, f[k++]!);
  if (k !== f.length) throw bad('basicConstraints has extra fields');
  return out;
}

function parseKeyUsage(v: Buffer): Set<KeyUsageName> {
  const { bytes } = decodeBitString(v, readOnly(v));
  const out = new Set<KeyUsageName>();
  KEY_USAGE_BITS.forEach((name, bit) => {
    const byte = bytes[bit >> 3];
    if (byte !== undefined && (byte & (0x80 >> (bit & 7))) !== 0) out.add(name);
  });
  return out;
}

function parseGeneralNames(v: Buffer): GeneralName[] {
  const seq = expectTag(readOnly(v), TAG.SEQUENCE, 'subjectAltName');
  const names = children(v, seq);
  if (names.length > MAX_SANS) throw bad('too many subject alternative names');
  return names.map((t) => parseGeneralName(v, t));
}

function parseGeneralName(v: Buffer, t: Tlv): GeneralName {
  const text = (): string => valueOf(v, t).toString('utf8');
  switch (t.tag) {
    case 0xa0: {
      const [oidT, valT] = children(v, t);
      const oid = decodeOid(v, need(oidT, 'otherName type'));
      if (!valT || valT.tag !== 0xa0) throw bad('otherName value');
      const [inner] = children(v, valT);
      return { type: 'otherName', oid, value: decodeString(v, need(inner, 'otherName value')) };
    }
    case 0x81:
      return { type: 'email', value: text() };
    case 0x82:
      return { type: 'dns', value: text() };
    case 0x86:
      return { type: 'uri', value: text() };
    case 0x87:
      return { type: 'ip', value: formatIp(valueOf(v, t)) };
    case 0xa4:
      return { type: 'directoryName', value: valueOf(v, t).toString('hex') };
    default:
      throw bad(`unsupported subject alternative name (tag 0x${t.tag.toString(16)})`);
  }
}

function formatIp(b: Buffer): string {
  if (b.length === 4) return [...b].join('.');
  if (b.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
    return groups.join(':');
  }
  throw bad('IP address SAN must be 4 or 16 bytes');
}

/** SAN values as strings (email, URI, DNS, IP, otherName text), in certificate order. */
export function sanValues(c: ParsedCertificate): string[] {
  return c.subjectAlternativeNames.filter((n) => n.type !== 'directoryName').map((n) => n.value);
}

export function isValidAt(c: ParsedCertificate, at: Date): boolean {
  const t = at.getTime();
  return c.notBefore.getTime() <= t && t <= c.notAfter.getTime();
}
