import 'reflect-metadata';
import { webcrypto, KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { FULCIO } from '../../src/x509/oids.js';

type CryptoKeyPair = webcrypto.CryptoKeyPair;
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface TestCert {
  der: Buffer;
  keys: CryptoKeyPair;
  privateKey: KeyObject;
  publicKey: KeyObject;
  name: string;
}

export async function keyPair(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
}

const utf8Der = (s: string): ArrayBuffer => {
  const b = Buffer.from(s, 'utf8');
  if (b.length > 127) throw new Error('test helper: short strings only');
  return new Uint8Array([0x0c, b.length, ...b]).buffer;
};

let serial = 1;

interface CertSpec {
  name: string;
  issuer?: TestCert;
  notBefore: Date;
  notAfter: Date;
  ca?: boolean;
  pathLen?: number;
  codeSigning?: boolean;
  san?: { type: 'email' | 'url'; value: string };
  fulcio?: Partial<Record<keyof typeof FULCIO, string>>;
  extraExtensions?: x509.Extension[];
}

/** A real certificate signed by `issuer` (or self-signed) with a fresh P-256 key. */
export async function issue(spec: CertSpec): Promise<TestCert> {
  const keys = await keyPair();
  const exts: x509.Extension[] = [];
  if (spec.ca) {
    exts.push(new x509.BasicConstraintsExtension(true, spec.pathLen, true));
    exts.push(new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true));
  } else {
    exts.push(new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true));
  }
  if (spec.codeSigning ?? !spec.ca) exts.push(new x509.ExtendedKeyUsageExtension(['1.3.6.1.5.5.7.3.3']));
  exts.push(await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never));
  if (spec.issuer)
    exts.push(await x509.AuthorityKeyIdentifierExtension.create(spec.issuer.keys.publicKey as never));
  if (spec.san)
    exts.push(
      new x509.SubjectAlternativeNameExtension([{ type: spec.san.type, value: spec.san.value }], true),
    );
  for (const [name, value] of Object.entries(spec.fulcio ?? {})) {
    const oid = FULCIO[name as keyof typeof FULCIO];
    const raw = Number(oid.split('.').pop()) <= 6;
    exts.push(new x509.Extension(oid, false, raw ? Buffer.from(value, 'utf8') : utf8Der(value)));
  }
  exts.push(...(spec.extraExtensions ?? []));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: (serial++).toString(16).padStart(2, '0'),
    subject: spec.san && !spec.ca ? '' : `CN=${spec.name}, O=sigil-test`,
    issuer: spec.issuer ? spec.issuer.name : `CN=${spec.name}, O=sigil-test`,
    notBefore: spec.notBefore,
    notAfter: spec.notAfter,
    signingAlgorithm: ALG,
    publicKey: keys.publicKey as never,
    signingKey: (spec.issuer ? spec.issuer.keys.privateKey : keys.privateKey) as never,
    extensions: exts,
  });
  return {
    der: Buffer.from(cert.rawData),
    keys,
    privateKey: KeyObject.from(keys.privateKey),
    publicKey: KeyObject.from(keys.publicKey),
    name: `CN=${spec.name}, O=sigil-test`,
  };
}
