import 'reflect-metadata';
import type { KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { SigilError } from '../../errors/index.js';
import {
  MAX_PEM_BYTES,
  PrehashedVerifier,
  canonicalEcSpki,
  type EcSpki,
  assertStrongKey,
  fromBase64,
  parseCertificateDer,
  pemBlocks,
  publicKeyFromDer,
  sha256Hex,
  spkiDer,
  toPem,
  type KeyKind,
} from '../../crypto/index.js';

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
  if (typeof b64 !== 'string' || b64.length === 0) throw new SigilError('INVALID_ENTRY', `${what} is missing`);
  if (b64.length > (MAX_PEM_BYTES * 4) / 3 + 4) throw new SigilError('INVALID_ENTRY', `${what} is too large`);
  const pem = fromBase64(b64, what).toString('latin1');
  if (!pem.includes('-----BEGIN')) throw new SigilError('INVALID_KEY', `${what} is not PEM`);
  const blocks = pemBlocks(pem);
  const rest = pem.replace(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g, '');
  if (rest.trim() !== '') throw new SigilError('INVALID_KEY', `${what} has text outside its PEM blocks`);
  const first = blocks[0];
  if (!first) throw new SigilError('INVALID_KEY', `${what} has no PEM block`);

  if (first.type === 'PUBLIC KEY' && blocks.length === 1) {
    const ec = canonicalEcSpki(first.der);
    if (ec) return ecKeyMaterial(first.der, ec);
  }

  let key: KeyObject;
  let canonicalPem: string;
  let subjects: string[] = [];
  if (first.type === 'PUBLIC KEY') {
    if (blocks.length !== 1) throw new SigilError('INVALID_KEY', `${what} must hold exactly one PUBLIC KEY block`);
    key = publicKeyFromDer(first.der);
    canonicalPem = toPem('PUBLIC KEY', spkiDer(key));
  } else if (first.type === 'CERTIFICATE') {
    if (blocks.length > MAX_PEM_CERTIFICATES) throw new SigilError('INVALID_CERTIFICATE', `${what} holds too many certificates`);
    if (blocks.some((b) => b.type !== 'CERTIFICATE')) {
      throw new SigilError('INVALID_CERTIFICATE', `${what} mixes certificates with other PEM blocks`);
    }
    const certs = blocks.map((b) => parseCertificateDer(b.der));
    key = certs[0]!.publicKey;
    canonicalPem = certs.map((c) => toPem('CERTIFICATE', c.raw)).join('');
    subjects = subjectsOf(first.der);
  } else {
    throw new SigilError('INVALID_KEY', `${what}: unexpected PEM block ${first.type}`);
  }
  const kind = assertStrongKey(key);
  const canonical = Buffer.from(canonicalPem, 'latin1');
  let verifier: PrehashedVerifier | undefined;
  return {
    key,
    kind,
    canonicalPem: canonical,
    canonicalB64: canonical.toString('base64'),
    pemSha256: sha256Hex(canonical),
    subjects,
    isCertificate: first.type === 'CERTIFICATE',
    prehashed: () => (verifier ??= new PrehashedVerifier(key)),
  };
}

/**
 * A NIST-curve key already in its canonical DER: the point goes straight to the native verifier
 * (checked to be on the curve here), and a KeyObject is made only if something asks for one
 * (DSSE verification): OpenSSL 3's general key parse costs about thirty verifications.
 */
function ecKeyMaterial(der: Buffer, ec: EcSpki): VerifierMaterial {
  let verifier: PrehashedVerifier;
  try {
    verifier = new PrehashedVerifier({ ec });
  } catch (e) {
    throw new SigilError('INVALID_KEY', 'public key does not parse', { cause: e });
  }
  const canonical = Buffer.from(toPem('PUBLIC KEY', der), 'latin1');
  let key: KeyObject | undefined;
  return {
    get key() {
      return (key ??= publicKeyFromDer(der));
    },
    kind: ec.kind,
    canonicalPem: canonical,
    canonicalB64: canonical.toString('base64'),
    pemSha256: sha256Hex(canonical),
    subjects: [],
    isCertificate: false,
    prehashed: () => verifier,
  };
}

/** DNS, email, IP and URI SANs of a certificate, lowercased, deduplicated. */
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
    if (n.type === 'dns' || n.type === 'email' || n.type === 'ip' || n.type === 'url') out.add(n.value.toLowerCase());
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
