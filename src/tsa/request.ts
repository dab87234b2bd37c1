import 'reflect-metadata';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { MessageImprint, TimeStampReq } from '@peculiar/asn1-tsp';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { SigilError } from '../errors/index.js';
import { DIGEST_LENGTH } from '../crypto/digest.js';
import { parseCanonicalRequest } from './der-request.js';
import {
  arrayBufferOf,
  FAILURE,
  HASH_BY_OID,
  HASH_OIDS,
  integerBytes,
  isMinimalInteger,
  isSingleSequence,
  type TsaHash,
} from './asn1.js';

/** A real TimeStampReq is ~100 bytes; sigstore's TSA caps bodies at 1 MiB, sigil far lower. */
export const MAX_DER_REQUEST_BYTES = 16 * 1024;
/** As sigstore's timestamp-authority (maxJSONRequestBytes). */
export const MAX_JSON_REQUEST_BYTES = 1024;
/** Nonces are 64-bit in OpenSSL and cosign; 32 bytes leaves room and bounds what is echoed. */
export const MAX_NONCE_BYTES = 32;

/** What a well-formed request asks for (before the TSA decides to grant it). */
export interface TimestampRequest {
  /** Echoed into TSTInfo exactly as received (RFC 3161 §2.4.2). */
  imprint: MessageImprint;
  nonce?: ArrayBuffer;
  certReq: boolean;
  policy?: string;
  extensionCount: number;
}

/** The request is well formed but not granted: answered as a TimeStampResp with status rejection. */
export interface Refusal {
  /** One of FAILURE. */
  failInfo: number;
  text: string;
}

const invalid = (message: string): SigilError => new SigilError('INVALID_INPUT', message);

/** DER TimeStampReq (application/timestamp-query). Malformed input throws INVALID_INPUT / TOO_LARGE. */
export function parseDerRequest(body: Buffer): TimestampRequest {
  if (body.length > MAX_DER_REQUEST_BYTES)
    throw new SigilError('TOO_LARGE', `TimeStampReq larger than ${MAX_DER_REQUEST_BYTES} bytes`);
  if (!isSingleSequence(body)) throw invalid('body is not one DER TimeStampReq SEQUENCE');
  return parseCanonicalRequest(body) ?? parseDerRequestWithLibrary(body);
}

/** The reference parse, through asn1-tsp: every shape parseCanonicalRequest leaves to it. */
export function parseDerRequestWithLibrary(body: Buffer): TimestampRequest {
  let req: TimeStampReq;
  try {
    req = AsnConvert.parse(body, TimeStampReq);
  } catch (e) {
    throw invalid(`malformed TimeStampReq: ${(e as Error).message}`);
  }
  if (req.version !== 1) throw invalid(`unsupported TimeStampReq version ${String(req.version)}`);
  if (req.nonce && req.nonce.byteLength > MAX_NONCE_BYTES)
    throw invalid(`nonce longer than ${MAX_NONCE_BYTES} bytes`);
  if (req.nonce && !isMinimalInteger(new Uint8Array(req.nonce)))
    throw invalid('nonce is not a DER INTEGER (empty, or a redundant leading byte)');
  return {
    imprint: req.messageImprint,
    certReq: req.certReq === true,
    extensionCount: req.extensions?.length ?? 0,
    ...(req.nonce ? { nonce: req.nonce } : {}),
    ...(req.reqPolicy ? { policy: req.reqPolicy } : {}),
  };
}

/**
 * The JSON form of sigstore's timestamp-authority (what @sigstore/sign sends):
 * `{artifactHash: base64, hashAlgorithm: "sha256", nonce?, certificates?, tsaPolicyOID?}`.
 * An unknown hash name becomes an imprint with no OID sigil grants, so it is refused with badAlg
 * like the DER form.
 */
export function parseJsonRequest(body: Buffer): TimestampRequest {
  if (body.length > MAX_JSON_REQUEST_BYTES)
    throw new SigilError('TOO_LARGE', `JSON timestamp request larger than ${MAX_JSON_REQUEST_BYTES} bytes`);
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw invalid('body is not JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw invalid('body is not a JSON object');
  const o = doc as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!['artifactHash', 'hashAlgorithm', 'nonce', 'certificates', 'tsaPolicyOID'].includes(k))
      throw invalid(`unknown field ${JSON.stringify(k).slice(0, 64)}`);
  // Padded standard base64 only (what Go's StdEncoding reads): Node's decoder would read
  // truncated or unpadded text as some other bytes, and those would be timestamped.
  const artifactHash = typeof o.artifactHash === 'string' ? Buffer.from(o.artifactHash, 'base64') : undefined;
  if (artifactHash === undefined || artifactHash.toString('base64') !== o.artifactHash)
    throw invalid('artifactHash must be padded standard base64');
  if (typeof o.hashAlgorithm !== 'string') throw invalid('hashAlgorithm must be a string');
  if (o.certificates !== undefined && typeof o.certificates !== 'boolean')
    throw invalid('certificates must be a boolean');
  if (
    o.tsaPolicyOID !== undefined &&
    (typeof o.tsaPolicyOID !== 'string' || !/^\d+(\.\d+)+$/.test(o.tsaPolicyOID))
  )
    throw invalid('tsaPolicyOID must be a dotted OID');
  const name = o.hashAlgorithm.toLowerCase();
  const oid = (HASH_OIDS as Record<string, string>)[name] ?? (name === 'sha1' ? '1.3.14.3.2.26' : '0.0');
  const imprint = new MessageImprint({
    hashAlgorithm: new AlgorithmIdentifier({ algorithm: oid }),
    hashedMessage: new OctetString(arrayBufferOf(artifactHash)),
  });
  return {
    imprint,
    certReq: o.certificates === true,
    extensionCount: 0,
    ...(o.nonce !== undefined && o.nonce !== null ? { nonce: arrayBufferOf(jsonNonce(o.nonce)) } : {}),
    ...(o.tsaPolicyOID ? { policy: o.tsaPolicyOID } : {}),
  };
}

/** A non-negative integer: a JSON number up to 2^53 − 1, or a decimal string (exact beyond that). */
function jsonNonce(v: unknown): Buffer {
  let n: bigint;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) n = BigInt(v);
  else if (typeof v === 'string' && /^\d{1,77}$/.test(v)) n = BigInt(v);
  else throw invalid('nonce must be a non-negative integer (a decimal string beyond 2^53)');
  const b = integerBytes(n);
  if (b.length > MAX_NONCE_BYTES) throw invalid(`nonce longer than ${MAX_NONCE_BYTES} bytes`);
  return b;
}

/**
 * Whether the TSA grants a well-formed request: SHA-256/384/512 imprints of the right length,
 * an accepted policy (or none), no extensions. Anything else is a rejection (RFC 3161 §2.4.2).
 */
export function refusalOf(req: TimestampRequest, acceptedPolicies: readonly string[]): Refusal | undefined {
  const alg = req.imprint.hashAlgorithm;
  const hash: TsaHash | undefined = HASH_BY_OID.get(alg.algorithm);
  if (!hash)
    return {
      failInfo: FAILURE.badAlg,
      text: 'unsupported hash algorithm; use SHA-256, SHA-384 or SHA-512',
    };
  if (alg.parameters !== undefined && alg.parameters !== null && !isDerNull(alg.parameters))
    return { failInfo: FAILURE.badAlg, text: 'hash algorithm parameters must be absent or NULL' };
  if (req.imprint.hashedMessage.byteLength !== DIGEST_LENGTH[hash])
    return {
      failInfo: FAILURE.badDataFormat,
      text: `a ${hash} imprint is ${DIGEST_LENGTH[hash]} bytes, not ${req.imprint.hashedMessage.byteLength}`,
    };
  if (req.policy !== undefined && !acceptedPolicies.includes(req.policy))
    return { failInfo: FAILURE.unacceptedPolicy, text: `policy ${req.policy} is not accepted` };
  if (req.extensionCount > 0)
    return { failInfo: FAILURE.unacceptedExtension, text: 'request extensions are not accepted' };
  return undefined;
}

function isDerNull(p: ArrayBuffer): boolean {
  const b = new Uint8Array(p);
  return b.length === 2 && b[0] === 0x05 && b[1] === 0x00;
}
