import 'reflect-metadata';
import { createPrivateKey, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { toPem } from '../crypto/index.js';

export interface ServingTls {
  /** Serving certificate chain PEM (leaf then CA). */
  cert: string;
  /** PKCS#8 PEM private key of the serving certificate (kept in memory only). */
  key: string;
  /** PEM of the CA that signed it; base64 of this is the webhook's `caBundle`. */
  caPem: string;
  /** base64(caPem), ready for `clientConfig.caBundle`. */
  caBundle: string;
}

export const WEBHOOK_TLS_VALIDITY_DAYS = 365;

/** DNS names a Kubernetes Service `name` in `namespace` is called by. */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [
    service,
    `${service}.${namespace}`,
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.cluster.local`,
  ];
}

function serial(): string {
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0] = (b[0]! & 0x7f) | 0x01;
  return Buffer.from(b).toString('hex');
}

/**
 * A fresh self-signed CA and a serving certificate from it (P-256), with SANs localhost,
 * 127.0.0.1, ::1 and the given DNS names. Nothing is written to disk: the key lives in this
 * process, and the CA bundle is printed for the webhook configuration.
 */
export async function generateServingTls(dnsNames: readonly string[] = []): Promise<ServingTls> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const crypto = webcrypto as unknown as webcrypto.Crypto;
  const subtle = webcrypto.subtle;
  const gen = (): Promise<webcrypto.CryptoKeyPair> =>
    subtle.generateKey(alg, true, ['sign', 'verify']) as Promise<webcrypto.CryptoKeyPair>;
  const caKeys = await gen();
  const leafKeys = await gen();
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + WEBHOOK_TLS_VALIDITY_DAYS * 86_400_000);
  const ca = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial(),
      name: 'O=sigil, CN=sigil-admission-ca',
      notBefore,
      notAfter,
      signingAlgorithm: alg,
      keys: caKeys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  const names = [...new Set(['localhost', ...dnsNames])];
  const leaf = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serial(),
      subject: `O=sigil, CN=${names[names.length - 1] ?? 'localhost'}`,
      issuer: ca.subject,
      notBefore,
      notAfter,
      signingAlgorithm: alg,
      publicKey: leafKeys.publicKey,
      signingKey: caKeys.privateKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension([
          ...names.map((value) => ({ type: 'dns' as const, value })),
          { type: 'ip' as const, value: '127.0.0.1' },
          { type: 'ip' as const, value: '::1' },
        ]),
        await x509.AuthorityKeyIdentifierExtension.create(ca, false, crypto),
      ],
    },
    crypto,
  );
  const key = createPrivateKey({
    key: Buffer.from(await subtle.exportKey('pkcs8', leafKeys.privateKey)),
    format: 'der',
    type: 'pkcs8',
  })
    .export({ type: 'pkcs8', format: 'pem' })
    .toString();
  const caPem = toPem('CERTIFICATE', Buffer.from(ca.rawData));
  return {
    cert: toPem('CERTIFICATE', Buffer.from(leaf.rawData)) + caPem,
    key,
    caPem,
    caBundle: Buffer.from(caPem).toString('base64'),
  };
}
