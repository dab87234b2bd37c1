import { SigilError } from '../errors/index.js';
import { digest as hashOf, keyKind, preAuthEncoding, spkiDer, type HashName } from '../crypto/index.js';
import type { TransparencyLogEntry } from '../bundle/index.js';
import type { RekorV2Client } from '../rekor-v2/client.js';
import { checkDsseEntry, checkMessageEntry } from './witness.js';
import type { DsseEnvelopeJson, KeyMaterial, Progress, Signature, Witness } from './types.js';

/** The PublicKeyDetails and hash a Rekor v2 entry names for the signing key (rekor-tiles' allowed set). */
function keyDetailsOf(m: KeyMaterial): { keyDetails: string; hash: HashName } {
  const kind = keyKind(m.publicKey);
  switch (kind) {
    case 'ecdsa-p256':
      return { keyDetails: 'PKIX_ECDSA_P256_SHA_256', hash: 'sha256' };
    case 'ecdsa-p384':
      return { keyDetails: 'PKIX_ECDSA_P384_SHA_384', hash: 'sha384' };
    case 'ecdsa-p521':
      return { keyDetails: 'PKIX_ECDSA_P521_SHA_512', hash: 'sha512' };
    case 'rsa': {
      const bits = m.publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
      if (![2048, 3072, 4096].includes(bits))
        throw new SigilError(
          'INVALID_KEY',
          `Rekor v2 takes RSA keys of 2048, 3072 or 4096 bits, not ${bits}`,
        );
      return { keyDetails: `PKIX_RSA_PKCS1V15_${bits}_SHA256`, hash: 'sha256' };
    }
    case 'ed25519':
      throw new SigilError(
        'INVALID_KEY',
        'Rekor v2 refuses pure Ed25519 signatures (it logs digests): sign with an ECDSA or RSA key, or log to a Rekor v1 log',
      );
  }
}

function verifier(m: KeyMaterial, keyDetails: string): Record<string, unknown> {
  return m.kind === 'certificate'
    ? { x509Certificate: { rawBytes: m.leaf.toString('base64') }, keyDetails }
    : { publicKey: { rawBytes: spkiDer(m.publicKey).toString('base64') }, keyDetails };
}

/**
 * A Rekor v2 log as a witness. Both message signatures and DSSE envelopes are logged as
 * hashedrekord v0.0.2 (the envelope as a digest of its PAE, as cosign v3 and sigstore-go do since
 * rekor-tiles dropped dsse); the returned entry is cross-checked against what was submitted.
 */
export function rekorV2Witness(client: RekorV2Client, progress?: Progress): Witness {
  const submit = async (digest: Buffer, signature: Signature): Promise<TransparencyLogEntry> => {
    const { keyDetails } = keyDetailsOf(signature.material);
    const entry = await client.createEntry({
      hashedRekordRequestV002: {
        digest: digest.toString('base64'),
        signature: {
          content: signature.signature.toString('base64'),
          verifier: verifier(signature.material, keyDetails),
        },
      },
    });
    progress?.(`tlog entry created with index: ${entry.logIndex} (Rekor v2 ${client.baseUrl})`);
    return entry;
  };
  return {
    async testifyMessage({ digest, signature }: { digest: Buffer; signature: Signature }) {
      const { hash } = keyDetailsOf(signature.material);
      if (hash !== 'sha256' || digest.length !== 32)
        throw new SigilError(
          'INVALID_INPUT',
          `this key signs ${hash} digests; the bundle carries a SHA-256 digest`,
        );
      const entry = await submit(digest, signature);
      checkMessageEntry(entry, digest, signature);
      return entry;
    },
    async testifyDsse({ envelope, signature }: { envelope: DsseEnvelopeJson; signature: Signature }) {
      const payload = Buffer.from(envelope.payload, 'base64');
      const { hash } = keyDetailsOf(signature.material);
      const entry = await submit(hashOf(hash, preAuthEncoding(envelope.payloadType, payload)), signature);
      checkDsseEntry(entry, envelope, signature.material);
      return entry;
    },
  };
}
