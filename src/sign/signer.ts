import type { KeyObject } from 'node:crypto';
import { SigilError } from '../errors/index.js';
import { generateP256, publicKeyPem, sha256, signData, spkiDer } from '../crypto/index.js';
import { parseCertificate } from '../x509/parse.js';
import type { IdentityProvider } from '../oidc/providers.js';
import { proofSubject } from './token.js';
import type { FulcioClient } from './fulcio.js';
import type { KeyMaterial, Progress, Signature, Signer } from './types.js';

/**
 * Keyless: an ephemeral P-256 key, held in memory only, certified once by the CA for the
 * identity token's subject; the same certificate serves every signature of this signer.
 */
export function ephemeralSigner(opts: {
  ca: FulcioClient;
  identity: IdentityProvider;
  progress?: Progress;
}): Signer {
  const { privateKey, publicKey } = generateP256();
  let material: Promise<KeyMaterial> | undefined;
  const certify = async (): Promise<KeyMaterial> => {
    const token = await opts.identity.getToken();
    const proof = signData(privateKey, Buffer.from(proofSubject(token), 'utf8'));
    opts.progress?.(`Retrieving signed certificate from ${opts.ca.baseUrl}...`);
    const chain = await opts.ca.signingCertificate({
      token,
      publicKeyPem: publicKeyPem(publicKey),
      proofOfPossession: proof,
    });
    const leaf = parseCertificate(chain[0]!);
    if (!spkiDer(leaf.publicKey).equals(spkiDer(publicKey))) {
      throw new SigilError('UPSTREAM_ERROR', 'the CA certified another key than the one requested');
    }
    opts.progress?.('Successfully retrieved a signing certificate');
    return { kind: 'certificate', leaf: chain[0]!, chain: chain.slice(1), publicKey };
  };
  return {
    async sign(data: Uint8Array): Promise<Signature> {
      material ??= certify();
      const m = await material.catch((e: unknown) => {
        material = undefined;
        throw e;
      });
      return { signature: signData(privateKey, data), material: m };
    },
  };
}

/** Key-based: a private key from a key file; the bundle names it by the hex SHA-256 of its SPKI. */
export function keySigner(privateKey: KeyObject, publicKey: KeyObject): Signer {
  const material: KeyMaterial = {
    kind: 'publicKey',
    publicKey,
    hint: sha256(spkiDer(publicKey)).toString('base64'),
  };
  return {
    async sign(data: Uint8Array): Promise<Signature> {
      return { signature: signData(privateKey, data), material };
    },
  };
}
