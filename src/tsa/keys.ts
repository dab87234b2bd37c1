import 'reflect-metadata';
import { createPrivateKey, createPublicKey, webcrypto, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { pemBlocks, toPem } from '../crypto/index.js';
import { randomSerialHex } from '../ca/keys.js';

export const EKU_TIME_STAMPING = '1.3.6.1.5.5.7.3.8';
export const TSA_VALIDITY_YEARS = 10;

export const TSA_FILES = {
  rootKey: 'tsa-root-key.pem',
  leafKey: 'tsa-key.pem',
  /** PEM chain: leaf, then root (what GET /api/v1/timestamp/certchain serves). */
  chain: 'tsa-chain.pem',
} as const;

/** The TSA's signing key and its chain, leaf first, anchor last. */
export interface TsaMaterial {
  key: KeyObject;
  chainDer: Buffer[];
  chainPem: string;
}

const crypto = webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.create>[1];

/**
 * Loads the TSA key and chain from dataDir, or creates them on first start: a P-256 root
 * (CA:true, pathlen 0) and a leaf whose only EKU is id-kp-timeStamping, marked critical
 * (RFC 3161 §2.3; sigstore's timestamp-authority refuses any other leaf).
 */
export async function loadOrCreateTsa(dataDir: string, name = 'sigil'): Promise<TsaMaterial> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const chainPath = join(dataDir, TSA_FILES.chain);
  if (!existsSync(chainPath)) await createTsa(dataDir, name);
  return loadTsa(join(dataDir, TSA_FILES.leafKey), chainPath);
}

/**
 * A key and chain made elsewhere (a Kubernetes Secret, an HSM-backed CA's output): the PEM
 * PKCS#8 or SEC1 key and the PEM chain, leaf first. The key must be the leaf's.
 */
export function loadTsa(keyFile: string, chainFile: string): TsaMaterial {
  const chainPem = readFileSync(chainFile, 'utf8');
  const chainDer = pemBlocks(chainPem)
    .filter((b) => b.type === 'CERTIFICATE')
    .map((b) => b.der);
  if (chainDer.length < 2) throw new Error(`${chainFile} must hold the leaf and the root`);
  const key = createPrivateKey(readFileSync(keyFile, 'utf8'));
  const leafKey = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const certKey = Buffer.from(new x509.X509Certificate(chainDer[0]!).publicKey.rawData);
  if (!leafKey.equals(certKey))
    throw new Error(`${keyFile} is not the key of the first certificate in ${chainFile}`);
  return { key, chainDer, chainPem };
}

async function createTsa(dataDir: string, name: string): Promise<void> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const subtle = webcrypto.subtle;
  const gen = () => subtle.generateKey(alg, true, ['sign', 'verify']) as Promise<webcrypto.CryptoKeyPair>;
  const rootKeys = await gen();
  const leafKeys = await gen();
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(notBefore.getTime());
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + TSA_VALIDITY_YEARS);
  const root = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerialHex(),
      name: `O=${name}, CN=${name}-tsa-root`,
      notBefore,
      notAfter,
      signingAlgorithm: alg,
      keys: rootKeys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey),
      ],
    },
    crypto,
  );
  const leaf = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerialHex(),
      subject: `O=${name}, CN=${name}-tsa`,
      issuer: root.subject,
      notBefore,
      notAfter,
      signingAlgorithm: alg,
      publicKey: leafKeys.publicKey,
      signingKey: rootKeys.privateKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([EKU_TIME_STAMPING], true),
        await x509.SubjectKeyIdentifierExtension.create(leafKeys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(root),
      ],
    },
    crypto,
  );
  const pkcs8 = async (k: webcrypto.CryptoKey): Promise<string> =>
    toPem('PRIVATE KEY', Buffer.from(await subtle.exportKey('pkcs8', k)));
  writeSecret(join(dataDir, TSA_FILES.rootKey), await pkcs8(rootKeys.privateKey));
  writeSecret(join(dataDir, TSA_FILES.leafKey), await pkcs8(leafKeys.privateKey));
  // The chain is written last: its presence means the key files are complete.
  writeFileSync(
    join(dataDir, TSA_FILES.chain),
    toPem('CERTIFICATE', Buffer.from(leaf.rawData)) + toPem('CERTIFICATE', Buffer.from(root.rawData)),
  );
}

function writeSecret(file: string, pem: string): void {
  writeFileSync(file, pem, { mode: 0o600 });
  chmodSync(file, 0o600);
}
