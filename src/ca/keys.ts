import 'reflect-metadata';
import { createPrivateKey, createPublicKey, webcrypto, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { EKU_CODE_SIGNING } from '../x509/oids.js';
import { certificateSubjectDer, keyIdentifier, sigAlgFor, type SigAlg } from '../x509/build.js';
import { loadOrCreateP256Key, toPem, writePrivateKeyFile as writeKey } from '../crypto/index.js';

export type CaCurve = 'P-256' | 'P-384';
export const DEFAULT_CA_CURVE: CaCurve = 'P-256';
export const CA_VALIDITY_YEARS = 10;

export const CA_FILES = {
  rootKey: 'ca-root-key.pem',
  root: 'ca-root.pem',
  intermediateKey: 'ca-intermediate-key.pem',
  intermediate: 'ca-intermediate.pem',
  ctKey: 'ctlog-key.pem',
} as const;

/** The signing material of the CA, loaded once. */
export interface CaMaterial {
  rootDer: Buffer;
  intermediateDer: Buffer;
  intermediateKey: KeyObject;
  sigAlg: SigAlg;
  /** Subject Name DER of the intermediate (the issuer Name of every leaf). */
  issuerName: Buffer;
  /** Subject key identifier of the intermediate (the AKI of every leaf). */
  issuerKeyId: Buffer;
  /** SPKI DER of the intermediate key (SHA-256 of it is the CT issuer_key_hash). */
  issuerSpki: Buffer;
  /** The chain handed out with leaves: intermediate, root (PEM). */
  chainPem: [string, string];
}

/**
 * Loads the root and intermediate from dataDir, or creates them on first start (keys as PKCS#8
 * PEM, mode 0600). The intermediate carries CA:true pathlen 0 and EKU codeSigning, as Fulcio's.
 */
export async function loadOrCreateCa(
  dataDir: string,
  curve: CaCurve = DEFAULT_CA_CURVE,
  name = 'sigil',
): Promise<CaMaterial> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = (f: string): string => join(dataDir, f);
  if (!existsSync(path(CA_FILES.intermediate))) await createCa(dataDir, curve, name);
  const rootDer = pemCert(readFileSync(path(CA_FILES.root), 'utf8'));
  const intermediateDer = pemCert(readFileSync(path(CA_FILES.intermediate), 'utf8'));
  const intermediateKey = createPrivateKey(readFileSync(path(CA_FILES.intermediateKey), 'utf8'));
  const issuerSpki = createPublicKey(intermediateKey).export({ type: 'spki', format: 'der' });
  return {
    rootDer,
    intermediateDer,
    intermediateKey,
    sigAlg: sigAlgFor(intermediateKey),
    issuerName: certificateSubjectDer(intermediateDer),
    issuerKeyId: keyIdentifier(issuerSpki),
    issuerSpki,
    chainPem: [toPem('CERTIFICATE', intermediateDer), toPem('CERTIFICATE', rootDer)],
  };
}

/** Loads or creates a P-256 key file (the CT log key). */
export const loadOrCreateKey = loadOrCreateP256Key;

async function createCa(dataDir: string, curve: CaCurve, name: string): Promise<void> {
  const alg = { name: 'ECDSA', namedCurve: curve, hash: curve === 'P-256' ? 'SHA-256' : 'SHA-384' };
  const subtle = webcrypto.subtle;
  const gen = () => subtle.generateKey(alg, true, ['sign', 'verify']) as Promise<webcrypto.CryptoKeyPair>;
  const rootKeys = await gen();
  const interKeys = await gen();
  const now = new Date();
  const notBefore = new Date(now.getTime() - 60_000);
  const notAfter = new Date(now.getTime());
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CA_VALIDITY_YEARS);
  const caUsage = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign;
  const root = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerialHex(),
      name: `O=${name}, CN=${name}-root`,
      notBefore,
      notAfter,
      signingAlgorithm: alg,
      keys: rootKeys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 1, true),
        new x509.KeyUsagesExtension(caUsage, true),
        await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey),
      ],
    },
    webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.create>[1],
  );
  const inter = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerialHex(),
      subject: `O=${name}, CN=${name}-intermediate`,
      issuer: root.subject,
      notBefore,
      notAfter,
      signingAlgorithm: alg,
      publicKey: interKeys.publicKey,
      signingKey: rootKeys.privateKey,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(caUsage, true),
        new x509.ExtendedKeyUsageExtension([EKU_CODE_SIGNING]),
        await x509.SubjectKeyIdentifierExtension.create(interKeys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(root),
      ],
    },
    webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.create>[1],
  );
  const pkcs8 = async (k: webcrypto.CryptoKey): Promise<KeyObject> =>
    createPrivateKey({ key: Buffer.from(await subtle.exportKey('pkcs8', k)), format: 'der', type: 'pkcs8' });
  writeKey(join(dataDir, CA_FILES.rootKey), await pkcs8(rootKeys.privateKey));
  writeKey(join(dataDir, CA_FILES.intermediateKey), await pkcs8(interKeys.privateKey));
  writeFileSync(join(dataDir, CA_FILES.root), toPem('CERTIFICATE', Buffer.from(root.rawData)));
  writeFileSync(join(dataDir, CA_FILES.intermediate), toPem('CERTIFICATE', Buffer.from(inter.rawData)));
}

/** A random positive 128-bit certificate serial number, as hex. */
export function randomSerialHex(): string {
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0] = (b[0]! & 0x7f) | 0x01;
  return Buffer.from(b).toString('hex');
}

function pemCert(pem: string): Buffer {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem);
  if (!m) throw new Error('no certificate in PEM file');
  return Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64');
}
