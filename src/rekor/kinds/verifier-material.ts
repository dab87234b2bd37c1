import 'reflect-metadata';
import type { KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { SigilError } from '../../errors/index.js';
import {
  MAX_PEM_BYTES,
  VerifyingKey,
  canonicalEcSpki,
  fromBase64,
  parseCertificateDer,
  pemBlocks,
  publicKeyFromDer,
  sha256Hex,
  toPem,
  type KeyKind,
  type PrehashedVerifier,
} from '../../crypto/index.js';
import { EXT } from '../../x509/oids.js';
import { parseCertificate, type ParsedCertificate } from '../../x509/parse.js';
import { children, readOnly, valueOf } from '../../x509/der-read.js';

/** Most certificates accepted in one PEM (a leaf and its chain). */
export const MAX_PEM_CERTIFICATES = 10;
/** Most SANs indexed per certificate. */
export const MAX_INDEXED_SUBJECTS = 64;

/**
 * A public key or certificate submitted as b64(PEM), parsed once: the key, its canonical
 * Go-style PEM (what Rekor stores), the search-index keys it contributes, and a lazily built
 * prehashed verifier.
 */
export interface VerifierMaterial {
  key: KeyObject;
  kind: KeyKind;
  /** Canonical PEM bytes: PUBLIC KEY re-encoded from SPKI, or the certificate(s) re-wrapped. */
  canonicalPem: Buffer;
  /** b64 of canonicalPem, as it appears in canonical entry bodies. */
  canonicalB64: string;
  /** Lowercase hex SHA-256 of canonicalPem. */
  pemSha256: string;
  /** Subject alternative names of the leaf certificate, lowercased (empty for a bare key). */
  subjects: string[];
  isCertificate: boolean;
  prehashed(): PrehashedVerifier;
}

export function parseVerifierMaterial(b64: unknown, what: string): VerifierMaterial {
  if (typeof b64 !== 'string' || b64.length === 0)
    throw new SigilError('INVALID_ENTRY', `${what} is missing`);
  if (b64.length > (MAX_PEM_BYTES * 4) / 3 + 4) throw new SigilError('INVALID_ENTRY', `${what} is too large`);
  const pem = fromBase64(b64, what).toString('latin1');
  if (!pem.includes('-----BEGIN')) throw new SigilError('INVALID_KEY', `${what} is not PEM`);
  const blocks = pemBlocks(pem);
  const rest = pem.replace(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g, '');
  if (rest.trim() !== '') throw new SigilError('INVALID_KEY', `${what} has text outside its PEM blocks`);
  const first = blocks[0];
  if (!first) throw new SigilError('INVALID_KEY', `${what} has no PEM block`);

  if (first.type === 'PUBLIC KEY') {
    if (blocks.length !== 1)
      throw new SigilError('INVALID_KEY', `${what} must hold exactly one PUBLIC KEY block`);
    // A canonical NIST-curve SPKI is its own canonical form: no KeyObject is made unless asked for.
    const key = canonicalEcSpki(first.der)
      ? VerifyingKey.fromSpki(first.der)
      : VerifyingKey.fromKeyObject(publicKeyFromDer(first.der));
    return materialOf(key, toPem('PUBLIC KEY', key.spki), [], false);
  }
  if (first.type === 'CERTIFICATE') {
    if (blocks.length > MAX_PEM_CERTIFICATES)
      throw new SigilError('INVALID_CERTIFICATE', `${what} holds too many certificates`);
    if (blocks.some((b) => b.type !== 'CERTIFICATE')) {
      throw new SigilError('INVALID_CERTIFICATE', `${what} mixes certificates with other PEM blocks`);
    }
    return certificateMaterial(blocks.map((b) => b.der));
  }
  throw new SigilError('INVALID_KEY', `${what}: unexpected PEM block ${first.type}`);
}

function materialOf(
  key: VerifyingKey,
  canonicalPem: string,
  subjects: string[],
  isCertificate: boolean,
): VerifierMaterial {
  const kind = key.assertStrong();
  const canonical = Buffer.from(canonicalPem, 'latin1');
  return {
    get key() {
      return key.keyObject;
    },
    kind,
    canonicalPem: canonical,
    canonicalB64: canonical.toString('base64'),
    pemSha256: sha256Hex(canonical),
    subjects,
    isCertificate,
    prehashed: () => key.prehashedVerifier(),
  };
}

/** Signature algorithms whose DER OpenSSL re-encodes byte for byte (so canonicalPem is the input). */
const PLAIN_SIGNATURE_ALGORITHMS = new Set([
  '300a06082a8648ce3d040302', // ecdsa-with-SHA256
  '300a06082a8648ce3d040303', // ecdsa-with-SHA384
  '300a06082a8648ce3d040304', // ecdsa-with-SHA512
  '300d06092a864886f70d01010b0500', // sha256WithRSAEncryption
  '300d06092a864886f70d01010c0500', // sha384WithRSAEncryption
  '300d06092a864886f70d01010d0500', // sha512WithRSAEncryption
  '300506032b6570', // Ed25519
]);

/**
 * Certificates the DER walker accepts (strict DER, every key parsed, EC points checked on their
 * curve) with a plain signature algorithm take the fast path; anything else keeps the
 * X509Certificate + @peculiar/x509 path, so what is accepted and stored does not change.
 */
function certificateMaterial(ders: Buffer[]): VerifierMaterial {
  let certs: ParsedCertificate[] | undefined;
  try {
    certs = ders.map((d) => parseCertificate(d));
  } catch {
    certs = undefined;
  }
  const plain = certs?.every(
    (c) =>
      c.signatureValue.unused === 0 && PLAIN_SIGNATURE_ALGORITHMS.has(c.signatureAlgorithm.toString('hex')),
  );
  if (!certs || !plain) return generalCertificateMaterial(ders);
  const canonicalPem = ders.map((d) => toPem('CERTIFICATE', d)).join('');
  return materialOf(certs[0]!.key, canonicalPem, indexedSubjects(certs[0]!), true);
}

function generalCertificateMaterial(ders: Buffer[]): VerifierMaterial {
  const certs = ders.map((d) => parseCertificateDer(d));
  const key = VerifyingKey.fromKeyObject(certs[0]!.publicKey);
  return materialOf(key, certs.map((c) => toPem('CERTIFICATE', c.raw)).join(''), subjectsOf(ders[0]!), true);
}

/** DNS, email, IP and URI SANs, lowercased, deduplicated: as subjectsOf reads them, from the parsed extension. */
function indexedSubjects(c: ParsedCertificate): string[] {
  const ext = c.extensions.find((e) => e.oid === EXT.subjectAltName);
  if (!ext) return [];
  const v = ext.value;
  const out = new Set<string>();
  for (const t of children(v, readOnly(v))) {
    if (t.tag === 0x81 || t.tag === 0x82 || t.tag === 0x86)
      out.add(valueOf(v, t).toString('latin1').toLowerCase());
    else if (t.tag === 0x87) out.add(ipText(valueOf(v, t)));
    else continue;
    if (out.size >= MAX_INDEXED_SUBJECTS) break;
  }
  return [...out];
}

/** An IP SAN as @peculiar/x509 writes it: dotted IPv4, or IPv6 with the longest run of 2+ zero groups as "::". */
function ipText(b: Buffer): string {
  if (b.length === 4) return [...b].join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j === i ? i + 1 : j;
  }
  if (best.len < 2) return groups.join(':');
  return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.len).join(':')}`;
}

/** DNS, email, IP and URI SANs of a certificate, lowercased, deduplicated (certificates off the fast path). */
function subjectsOf(der: Buffer): string[] {
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(der);
  } catch (e) {
    throw new SigilError('INVALID_CERTIFICATE', 'certificate does not parse', { cause: e });
  }
  const ext = cert.getExtension(x509.SubjectAlternativeNameExtension);
  if (!ext) return [];
  const out = new Set<string>();
  for (const n of ext.names.items) {
    if (n.type === 'dns' || n.type === 'email' || n.type === 'ip' || n.type === 'url')
      out.add(n.value.toLowerCase());
    if (out.size >= MAX_INDEXED_SUBJECTS) break;
  }
  return [...out];
}

/** A small LRU of parsed verifier material keyed by the submitted b64 string. */
export class VerifierCache {
  private readonly map = new Map<string, VerifierMaterial>();
  constructor(private readonly capacity = 4096) {}

  get(b64: unknown, what: string): VerifierMaterial {
    if (typeof b64 === 'string') {
      const hit = this.map.get(b64);
      if (hit) {
        this.map.delete(b64);
        this.map.set(b64, hit);
        return hit;
      }
    }
    const parsed = parseVerifierMaterial(b64, what);
    this.map.set(b64 as string, parsed);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as string);
    return parsed;
  }

  get size(): number {
    return this.map.size;
  }
}
