import { constants, publicDecrypt } from 'node:crypto';
import { SigilError } from '../../errors/index.js';
import { DIGEST_LENGTH, fromBase64, type HashName } from '../../crypto/index.js';
import { objectField, stringField } from './fields.js';
import type { CanonicalEntry } from './types.js';
import type { VerifierCache, VerifierMaterial } from './verifier-material.js';

export const HASHEDREKORD = { kind: 'hashedrekord', apiVersion: '0.0.1' } as const;
/** DER ECDSA signatures are < 140 bytes; RSA-4096 is 512. */
export const MAX_SIGNATURE_BYTES = 1024;

const ALGORITHMS: readonly HashName[] = ['sha256', 'sha384', 'sha512'];

/** DigestInfo prefixes (RFC 8017 §9.2 note 1) for RSA PKCS#1 v1.5 over a precomputed digest. */
const DIGEST_INFO: Record<HashName, Buffer> = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};

/**
 * hashedrekord v0.0.1: validates the spec, verifies the signature over the submitted digest
 * with the submitted key or certificate, and returns the canonical body and index keys.
 */
export function canonicalizeHashedRekord(specIn: unknown, keys: VerifierCache): CanonicalEntry {
  const spec = objectField(specIn, 'spec');
  const signature = objectField(spec.signature, 'spec.signature');
  const publicKey = objectField(signature.publicKey, 'spec.signature.publicKey');
  const hash = objectField(objectField(spec.data, 'spec.data').hash, 'spec.data.hash');

  const algorithm = hash.algorithm === undefined ? 'sha256' : hash.algorithm;
  if (typeof algorithm !== 'string' || !ALGORITHMS.includes(algorithm as HashName)) {
    throw new SigilError('INVALID_ENTRY', 'spec.data.hash.algorithm must be sha256, sha384 or sha512');
  }
  const alg = algorithm as HashName;
  const value = stringField(hash.value, 'spec.data.hash.value', 128);
  if (value.length !== DIGEST_LENGTH[alg] * 2 || !/^[0-9a-fA-F]+$/.test(value)) {
    throw new SigilError(
      'INVALID_ENTRY',
      `spec.data.hash.value must be ${DIGEST_LENGTH[alg] * 2} hex characters for ${alg}`,
    );
  }
  const digestHex = value.toLowerCase();
  const sigB64 = stringField(
    signature.content,
    'spec.signature.content',
    Math.ceil(MAX_SIGNATURE_BYTES / 3) * 4,
  );
  const sig = fromBase64(sigB64, 'spec.signature.content');
  if (sig.length === 0) throw new SigilError('INVALID_ENTRY', 'spec.signature.content is empty');

  const material = keys.get(publicKey.content, 'spec.signature.publicKey.content');
  if (!verifyDigest(material, alg, Buffer.from(digestHex, 'hex'), sig)) {
    throw new SigilError('INVALID_SIGNATURE', 'signature does not verify over the digest with the given key');
  }

  // Every value is b64 or hex (validated above), so the JCS text can be assembled directly.
  const body =
    `{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":{"algorithm":"${alg}","value":"${digestHex}"}},` +
    `"signature":{"content":"${sig.toString('base64')}","publicKey":{"content":"${material.canonicalB64}"}}}}`;
  return {
    ...HASHEDREKORD,
    body: Buffer.from(body, 'latin1'),
    indexKeys: [material.pemSha256, ...material.subjects, `${alg}:${digestHex}`],
  };
}

function verifyDigest(material: VerifierMaterial, alg: HashName, digest: Buffer, sig: Buffer): boolean {
  switch (material.kind) {
    case 'ecdsa-p256':
    case 'ecdsa-p384':
    case 'ecdsa-p521':
      return material.prehashed().verify(digest, sig);
    case 'rsa':
      return verifyRsaPkcs1Prehashed(material, alg, digest, sig);
    case 'ed25519':
      throw new SigilError(
        'INVALID_KEY',
        'Ed25519 keys need Ed25519ph for hashedrekord, which is not supported',
      );
  }
}

/** RSA PKCS#1 v1.5: recover the padded DigestInfo (type-1 padding is checked) and compare. */
function verifyRsaPkcs1Prehashed(
  material: VerifierMaterial,
  alg: HashName,
  digest: Buffer,
  sig: Buffer,
): boolean {
  try {
    const recovered = publicDecrypt({ key: material.key, padding: constants.RSA_PKCS1_PADDING }, sig);
    return recovered.equals(Buffer.concat([DIGEST_INFO[alg], digest]));
  } catch {
    return false;
  }
}
