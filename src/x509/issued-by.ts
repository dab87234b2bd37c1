import { createHash } from 'node:crypto';
import type { ParsedCertificate } from './parse.js';

/** DER AlgorithmIdentifiers of ecdsa-with-SHA256/384/512 (RFC 5758: parameters absent). */
const ECDSA_SIGNATURE_HASHES = new Map<string, 'sha256' | 'sha384' | 'sha512'>([
  ['300a06082a8648ce3d040302', 'sha256'],
  ['300a06082a8648ce3d040303', 'sha384'],
  ['300a06082a8648ce3d040304', 'sha512'],
]);

/**
 * Whether `issuer`'s key signed `child`'s TBSCertificate. ECDSA signatures by an EC key are
 * checked over the TBS digest with the issuer's parsed key (no OpenSSL certificate or key
 * decode); anything else goes through X509Certificate.verify. Never throws.
 */
export function signatureVerifies(child: ParsedCertificate, issuer: ParsedCertificate): boolean {
  try {
    const hash = ECDSA_SIGNATURE_HASHES.get(child.signatureAlgorithm.toString('hex'));
    if (hash && issuer.key.isEcdsa) {
      const sig = child.signatureValue;
      return (
        sig.unused === 0 && issuer.key.verifyDigest(createHash(hash).update(child.tbs).digest(), sig.bytes)
      );
    }
    return child.x509.verify(issuer.publicKey);
  } catch {
    return false;
  }
}
