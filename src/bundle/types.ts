/** Sigstore bundle and trusted-root shapes after parsing (bytes as Buffers, int64 as numbers). */

export type BundleVersion = '0.1' | '0.2' | '0.3';

export const BUNDLE_V03_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
export const BUNDLE_MEDIA_TYPES: Record<string, BundleVersion> = {
  'application/vnd.dev.sigstore.bundle+json;version=0.1': '0.1',
  'application/vnd.dev.sigstore.bundle+json;version=0.2': '0.2',
  'application/vnd.dev.sigstore.bundle+json;version=0.3': '0.3',
  [BUNDLE_V03_MEDIA_TYPE]: '0.3',
};

export type HashAlgorithm = 'SHA2_256' | 'SHA2_384' | 'SHA2_512';

export interface KindVersion {
  kind: string;
  version: string;
}

export interface InclusionProof {
  /** Index within the log shard (may differ from the entry's global logIndex). */
  logIndex: number;
  rootHash: Buffer;
  treeSize: number;
  hashes: Buffer[];
  /** The signed-note checkpoint text, verbatim (absent in some old bundles: verification then fails). */
  checkpoint?: string;
}

export interface TransparencyLogEntry {
  logIndex: number;
  /** SHA-256 of the log key's DER SPKI. */
  logId: Buffer;
  kindVersion: KindVersion;
  integratedTime: number;
  inclusionPromise?: { signedEntryTimestamp: Buffer };
  inclusionProof?: InclusionProof;
  canonicalizedBody: Buffer;
}

export type VerificationContent =
  | { kind: 'certificate'; certificate: Buffer }
  | { kind: 'x509CertificateChain'; certificates: Buffer[] }
  | { kind: 'publicKey'; hint: string };

export interface DsseEnvelope {
  payload: Buffer;
  payloadType: string;
  signatures: { sig: Buffer; keyid: string }[];
}

export type BundleContent =
  | {
      kind: 'messageSignature';
      messageDigest?: { algorithm: HashAlgorithm; digest: Buffer };
      signature: Buffer;
    }
  | { kind: 'dsseEnvelope'; envelope: DsseEnvelope };

export interface Bundle {
  mediaType: string;
  version: BundleVersion;
  verificationMaterial: {
    content: VerificationContent;
    tlogEntries: TransparencyLogEntry[];
    /** RFC 3161 signed timestamps (DER TimeStampResp or TimeStampToken), verified by src/timestamp. */
    rfc3161Timestamps: Buffer[];
  };
  content: BundleContent;
}

export interface ValidityPeriod {
  start?: Date;
  end?: Date;
}

export interface TransparencyLogInstance {
  baseUrl: string;
  hashAlgorithm: HashAlgorithm;
  publicKey: { rawBytes: Buffer; keyDetails: string; validFor?: ValidityPeriod };
  logId: Buffer;
  checkpointKeyId?: Buffer;
  operator?: string;
}

export interface CertificateAuthorityInfo {
  subject?: { organization?: string; commonName?: string };
  uri: string;
  /** DER certificates from the issuer of leaves to the anchor (last). */
  certChain: Buffer[];
  validFor: ValidityPeriod;
  operator?: string;
}

export interface TrustedRoot {
  mediaType: string;
  tlogs: TransparencyLogInstance[];
  certificateAuthorities: CertificateAuthorityInfo[];
  ctlogs: TransparencyLogInstance[];
  timestampAuthorities: CertificateAuthorityInfo[];
}

export const TRUSTED_ROOT_MEDIA_TYPES = [
  'application/vnd.dev.sigstore.trustedroot.v0.2+json',
  'application/vnd.dev.sigstore.trustedroot.v0.1+json',
  'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
] as const;
/** The spelling sigil writes: the one every client (including older ones) accepts. */
export const TRUSTED_ROOT_MEDIA_TYPE = 'application/vnd.dev.sigstore.trustedroot+json;version=0.1';
