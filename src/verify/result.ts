import type { FulcioExtensionName } from '../x509/oids.js';
import type { TlogEntryResult } from './tlog.js';

export const VERIFICATION_MEDIA_TYPE = 'application/vnd.sigil.verification.v1+json';

/** The checks, in the order the pipeline runs them. */
export type CheckName =
  'timestamp' | 'tlog' | 'certificate-chain' | 'sct' | 'signature' | 'identity' | 'public-key';

/** What a successful verification established (JSON-serializable, versioned). */
export interface VerificationResult {
  mediaType: typeof VERIFICATION_MEDIA_TYPE;
  verified: true;
  mode: 'certificate' | 'public-key';
  signature: {
    kind: 'messageSignature' | 'dsseEnvelope';
    payloadType?: string;
    digest?: { algorithm: string; hex: string };
  };
  identity?: {
    subjectAlternativeNames: string[];
    issuer?: string;
    extensions: Partial<Record<FulcioExtensionName, string>>;
  };
  certificate?: { serialNumber: string; notBefore: string; notAfter: string; chainLength: number };
  /** Hex SHA-256 of the signer's DER SPKI. */
  keyId: string;
  /** Earliest SET-backed integrated time (ISO 8601), when any. */
  integratedTime?: string;
  integratedTimeUnix?: number;
  logIndex?: number;
  tlogEntries: TlogEntryResult[];
  /** RFC 3161 timestamps that verified: genTime (ISO 8601) and the authority's URI. */
  timestamps: { time: string; authority: string }[];
  /** CT logs (hex IDs) whose SCTs verified. */
  ctlogs: string[];
  checks: CheckName[];
  /** Opt-outs that were in force. */
  unsafe: string[];
}
