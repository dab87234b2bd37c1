import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import { SigilError } from '../errors/index.js';

export const TRUSTED_ROOT_MEDIA_TYPE = 'application/vnd.dev.sigstore.trustedroot+json;version=0.1';
/** Written when the root lists timestamp authorities (the form current clients expect). */
export const TRUSTED_ROOT_V02_MEDIA_TYPE = 'application/vnd.dev.sigstore.trustedroot.v0.2+json';

export interface KeyedLog {
  baseUrl: string;
  /** DER SPKI of the log key. */
  publicKeyDer: Buffer;
  /** Start of the key's validity window (end left open). */
  validFrom: Date;
}

export interface TrustedRootInput {
  ca: {
    uri: string;
    /** DER certificates from the issuer of leaves to the root (the anchor last). */
    chainDer: readonly Buffer[];
    /** Default: the anchor's notBefore. */
    validFrom?: Date;
  };
  tlogs: readonly KeyedLog[];
  ctlogs: readonly KeyedLog[];
  /** RFC 3161 timestamp authorities: full timestamp URL and DER chain, leaf first, anchor last. */
  tsas?: readonly { uri: string; chainDer: readonly Buffer[]; validFrom?: Date }[];
}

/**
 * A trusted_root.json (protobuf-JSON, WIRE §5.1) for one CA, its CT logs and transparency logs.
 * Pure: the caller fetches the material (see fetchTrustedRootMaterial in client.ts).
 */
export function buildTrustedRoot(input: TrustedRootInput): Record<string, unknown> {
  if (input.ca.chainDer.length === 0) throw new SigilError('INVALID_INPUT', 'CA chain is empty');
  const anchor = new X509Certificate(input.ca.chainDer[input.ca.chainDer.length - 1]!);
  const caStart = input.ca.validFrom ?? new Date(anchor.validFrom);
  const subject = subjectOf(anchor);
  const tsas = input.tsas ?? [];
  return {
    mediaType: tsas.length > 0 ? TRUSTED_ROOT_V02_MEDIA_TYPE : TRUSTED_ROOT_MEDIA_TYPE,
    tlogs: input.tlogs.map(logEntry),
    certificateAuthorities: [
      {
        subject,
        uri: input.ca.uri,
        certChain: { certificates: input.ca.chainDer.map((c) => ({ rawBytes: c.toString('base64') })) },
        validFor: { start: caStart.toISOString() },
      },
    ],
    ctlogs: input.ctlogs.map(logEntry),
    timestampAuthorities: tsas.map((t) => {
      if (t.chainDer.length === 0) throw new SigilError('INVALID_INPUT', 'TSA chain is empty');
      const tsaAnchor = new X509Certificate(t.chainDer[t.chainDer.length - 1]!);
      return {
        subject: subjectOf(new X509Certificate(t.chainDer[0]!)),
        uri: t.uri,
        certChain: { certificates: t.chainDer.map((c) => ({ rawBytes: c.toString('base64') })) },
        validFor: { start: (t.validFrom ?? new Date(tsaAnchor.validFrom)).toISOString() },
      };
    }),
  };
}

function logEntry(l: KeyedLog): Record<string, unknown> {
  return {
    baseUrl: l.baseUrl,
    hashAlgorithm: 'SHA2_256',
    publicKey: {
      rawBytes: l.publicKeyDer.toString('base64'),
      keyDetails: keyDetails(l.publicKeyDer),
      validFor: { start: l.validFrom.toISOString() },
    },
    logId: { keyId: createHash('sha256').update(l.publicKeyDer).digest('base64') },
  };
}

/** protobuf-specs PublicKeyDetails for a DER SPKI. */
export function keyDetails(spkiDer: Buffer): string {
  let key;
  try {
    key = createPublicKey({ key: spkiDer, format: 'der', type: 'spki' });
  } catch (e) {
    throw new SigilError('INVALID_KEY', 'log public key does not parse', { cause: e });
  }
  if (key.asymmetricKeyType === 'ed25519') return 'PKIX_ED25519';
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return 'PKIX_ECDSA_P256_SHA_256';
    if (curve === 'secp384r1') return 'PKIX_ECDSA_P384_SHA_384';
    if (curve === 'secp521r1') return 'PKIX_ECDSA_P521_SHA_512';
  }
  if (key.asymmetricKeyType === 'rsa') return 'PKIX_RSA_PKCS1V15_2048_SHA256';
  throw new SigilError('INVALID_KEY', 'unsupported log key type');
}

function subjectOf(cert: X509Certificate): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of cert.subject.split('\n')) {
    const [k, v] = line.split('=');
    if (k === 'O' && v) out.organization = v;
    if (k === 'CN' && v) out.commonName = v;
  }
  return out;
}
