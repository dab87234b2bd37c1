import 'reflect-metadata';
import { createPublicKey, webcrypto, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { SigilError } from '../errors/index.js';
import { assertStrongKey, canonicalEcSpki, fromBase64, pemBlocks, verifyData } from '../crypto/index.js';

export const MAX_KEY_CHARS = 16 * 1024;
export const MAX_CSR_CHARS = 32 * 1024;
export const MAX_POP_CHARS = 2 * 1024;

/** A parsed CreateSigningCertificateRequest, before the token is verified. */
export type KeyRequest =
  | { kind: 'publicKey'; key: KeyObject; spki: Buffer; proofOfPossession: Buffer }
  | { kind: 'csr'; key: KeyObject; spki: Buffer };

export interface SigningCertRequest {
  token: string;
  key: KeyRequest;
}

/**
 * Reads the Fulcio v2 request (camelCase or snake_case, as protojson accepts). The token comes
 * from credentials.oidcIdentityToken, else from `Authorization: Bearer`.
 */
export async function parseSigningCertRequest(
  body: unknown,
  authorization: string | undefined,
): Promise<SigningCertRequest> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new SigilError('INVALID_INPUT', 'request body must be a JSON object');
  }
  const b = body as Record<string, unknown>;
  const creds = field(b, 'credentials');
  const fromBody = isObject(creds) ? field(creds, 'oidcIdentityToken', 'oidc_identity_token') : undefined;
  let token = typeof fromBody === 'string' ? fromBody : '';
  if (!token && authorization?.startsWith('Bearer ')) token = authorization.slice(7).trim();
  if (!token)
    throw new SigilError(
      'UNAUTHENTICATED',
      'no identity token in credentials.oidcIdentityToken or Authorization',
    );

  const pkr = field(b, 'publicKeyRequest', 'public_key_request');
  const csr = field(b, 'certificateSigningRequest', 'certificate_signing_request');
  if ((pkr === undefined) === (csr === undefined)) {
    throw new SigilError(
      'INVALID_INPUT',
      'exactly one of publicKeyRequest or certificateSigningRequest is required',
    );
  }
  if (csr !== undefined) {
    const key = await parseCsr(csr);
    return { token, key: { kind: 'csr', key, spki: key.export({ type: 'spki', format: 'der' }) } };
  }
  if (!isObject(pkr)) throw new SigilError('INVALID_INPUT', 'publicKeyRequest must be an object');
  const pk = field(pkr, 'publicKey', 'public_key');
  const content = isObject(pk) ? pk.content : undefined;
  if (typeof content !== 'string' || content === '')
    throw new SigilError('INVALID_KEY', 'publicKey.content is required');
  if (content.length > MAX_KEY_CHARS) throw new SigilError('TOO_LARGE', 'public key too large');
  const pop = field(pkr, 'proofOfPossession', 'proof_of_possession');
  if (typeof pop !== 'string' || pop === '' || pop.length > MAX_POP_CHARS) {
    throw new SigilError('INVALID_SIGNATURE', 'proofOfPossession is required (base64 signature)');
  }
  const { key, spki } = parsePublicKeyContent(content);
  assertStrongKey(key);
  return {
    token,
    key: { kind: 'publicKey', key, spki, proofOfPossession: fromBase64(pop, 'proofOfPossession') },
  };
}

/** The proof of possession must be the key's signature over the principal's name. */
export function checkProofOfPossession(req: KeyRequest, name: string): void {
  if (req.kind !== 'publicKey') return;
  if (!verifyData(req.key, Buffer.from(name, 'utf8'), req.proofOfPossession)) {
    throw new SigilError('INVALID_SIGNATURE', 'the signature supplied in the request could not be verified');
  }
}

/** PEM `PUBLIC KEY`, or base64 DER SPKI; with the canonical DER SPKI to certify. */
function parsePublicKeyContent(content: string): { key: KeyObject; spki: Buffer } {
  let der: Buffer;
  if (content.includes('-----BEGIN')) {
    const block = pemBlocks(content)[0];
    if (!block || block.type !== 'PUBLIC KEY')
      throw new SigilError('INVALID_KEY', 'expected a PUBLIC KEY PEM block');
    der = block.der;
  } else {
    der = fromBase64(content.replace(/\s+/g, ''), 'publicKey.content');
  }
  try {
    // OpenSSL 3 decodes a DER key through its generic decoder and encodes it back as slowly; a
    // canonical NIST-curve SPKI is imported from its point as a JWK (half the cost), and the
    // request's DER, byte for byte what an export would produce, goes into the certificate.
    const ec = canonicalEcSpki(der);
    if (ec) {
      const size = (ec.point.length - 1) / 2;
      const x = ec.point.subarray(1, 1 + size).toString('base64url');
      const y = ec.point.subarray(1 + size).toString('base64url');
      return {
        key: createPublicKey({ key: { kty: 'EC', crv: `P-${ec.bits}`, x, y }, format: 'jwk' }),
        spki: der,
      };
    }
    const key = createPublicKey({ key: der, format: 'der', type: 'spki' });
    return { key, spki: key.export({ type: 'spki', format: 'der' }) };
  } catch (e) {
    throw new SigilError('INVALID_KEY', 'the public key supplied in the request could not be parsed', {
      cause: e,
    });
  }
}

/** A PKCS#10 CSR (base64 of PEM or DER): its self-signature must verify; only its key is used. */
async function parseCsr(value: unknown): Promise<KeyObject> {
  if (typeof value !== 'string' || value === '')
    throw new SigilError('INVALID_CSR', 'certificateSigningRequest must be a string');
  if (value.length > MAX_CSR_CHARS) throw new SigilError('TOO_LARGE', 'CSR too large');
  let bytes: Buffer;
  try {
    bytes = fromBase64(value.replace(/\s+/g, ''), 'certificateSigningRequest');
  } catch (e) {
    throw new SigilError('INVALID_CSR', 'certificateSigningRequest is not base64', { cause: e });
  }
  const text = bytes.toString('latin1');
  let der = bytes;
  if (text.includes('-----BEGIN')) {
    const block = pemBlocks(text)[0];
    if (!block || !/CERTIFICATE REQUEST$/.test(block.type))
      throw new SigilError('INVALID_CSR', 'expected a CERTIFICATE REQUEST PEM block');
    der = block.der;
  }
  let csr: x509.Pkcs10CertificateRequest;
  let ok = false;
  let key: KeyObject;
  try {
    csr = new x509.Pkcs10CertificateRequest(der);
    key = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: 'der', type: 'spki' });
  } catch (e) {
    throw new SigilError('INVALID_CSR', 'the CSR does not parse', { cause: e });
  }
  assertStrongKey(key);
  try {
    ok = await csr.verify(webcrypto as unknown as Parameters<x509.Pkcs10CertificateRequest['verify']>[0]);
  } catch (e) {
    throw new SigilError('INVALID_CSR', 'the CSR signature cannot be checked', { cause: e });
  }
  if (!ok) throw new SigilError('INVALID_CSR', 'the CSR signature does not verify');
  return key;
}

function field(o: Record<string, unknown>, camel: string, snake?: string): unknown {
  return o[camel] ?? (snake ? o[snake] : undefined);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
