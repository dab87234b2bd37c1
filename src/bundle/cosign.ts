import { SigilError } from '../errors/index.js';
import { pemBlocks, sha256 } from '../crypto/index.js';
import { BUNDLE_LIMITS } from './bundle.js';
import { FieldReader, parseJsonInput, type Json } from './protojson.js';
import { kindVersionOfBody, setPayloadOf } from './rekor-entry.js';
import type { Bundle, TransparencyLogEntry } from './types.js';

/** Layer annotation names of cosign's legacy (tag-based) layout (WIRE §6.1), for `.sig` and `.att` layers. */
export const COSIGN_ANNOTATIONS = {
  signature: 'dev.cosignproject.cosign/signature',
  certificate: 'dev.sigstore.cosign/certificate',
  chain: 'dev.sigstore.cosign/chain',
  bundle: 'dev.sigstore.cosign/bundle',
  rfc3161Timestamp: 'dev.sigstore.cosign/rfc3161timestamp',
  predicateType: 'predicateType',
} as const;

export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const COSIGN_SIGNATURE_TYPE = 'cosign container image signature';
export const MAX_SIMPLE_SIGNING_BYTES = 1024 * 1024;

export interface SimpleSigningPayload {
  dockerReference: string;
  dockerManifestDigest: string;
  type: string;
  optional: Record<string, unknown> | null;
}

/** One signature layer as the OCI helper fetched it: the blob bytes and the descriptor annotations. */
export interface CosignSignatureLayer {
  payload: Uint8Array;
  annotations: Record<string, string>;
}

/** A cosign signature turned into something the bundle verifier understands. */
export interface CosignSignatureItem {
  payload: Buffer;
  simpleSigning: SimpleSigningPayload;
  signature: Buffer;
  /** DER leaf (keyless) and the chain that came with it (intermediates, maybe the root). */
  certificate?: Buffer;
  chain: Buffer[];
  tlogEntry?: TransparencyLogEntry;
  /**
   * DER RFC 3161 timestamp of the `rfc3161timestamp` annotation (over the raw signature). Kept
   * apart from `bundle`: cosign verifies it only when asked for signed timestamps.
   */
  rfc3161Timestamp?: Buffer;
  /** An equivalent v0.1-style bundle: messageSignature over sha256(payload) + the SET-only log entry. */
  bundle: Bundle;
}

export function parseSimpleSigningPayload(payload: Uint8Array): SimpleSigningPayload {
  const r = new FieldReader('INVALID_INPUT', 'simpleSigningPayload');
  if (payload.length > MAX_SIMPLE_SIGNING_BYTES)
    throw new SigilError('TOO_LARGE', 'simple-signing payload is too large');
  const o = r.object(
    parseJsonInput(Buffer.from(payload), 'INVALID_INPUT', 'simple-signing payload', MAX_SIMPLE_SIGNING_BYTES),
  );
  const critical = r.at('critical').object(o.critical);
  const identity = r.at('critical.identity').object(critical.identity);
  const image = r.at('critical.image').object(critical.image);
  const optional =
    o.optional === undefined || o.optional === null ? null : r.at('optional').object(o.optional);
  return {
    dockerReference: r.at('critical.identity.docker-reference').string(identity['docker-reference'], 4096),
    dockerManifestDigest: r
      .at('critical.image.docker-manifest-digest')
      .string(image['docker-manifest-digest'], 256),
    type: r.at('critical.type').string(critical.type, 256),
    optional,
  };
}

/** The Rekor "bundle" annotation: {SignedEntryTimestamp, Payload:{body, integratedTime, logIndex, logID}}. */
export function parseCosignRekorBundle(text: string): TransparencyLogEntry {
  const r = new FieldReader('INVALID_BUNDLE', COSIGN_ANNOTATIONS.bundle);
  const o = r.object(
    parseJsonInput(text, 'INVALID_BUNDLE', 'cosign bundle annotation', BUNDLE_LIMITS.maxBodyBytes * 2),
  );
  const p = r.at('Payload').object(o.Payload);
  const body = r.at('Payload.body').bytes(p.body, BUNDLE_LIMITS.maxBodyBytes);
  const logIdHex = r.at('Payload.logID').string(p.logID, 64);
  if (!/^[0-9a-f]{64}$/.test(logIdHex)) r.at('Payload.logID').fail('must be 64 lowercase hex characters');
  const set = r.at('SignedEntryTimestamp').bytes(o.SignedEntryTimestamp, 1024);
  if (set.length === 0) r.at('SignedEntryTimestamp').fail('is empty');
  return {
    logIndex: r.at('Payload.logIndex').int64(p.logIndex),
    logId: Buffer.from(logIdHex, 'hex'),
    kindVersion: kindVersionOfBody(body, r.at('Payload.body')),
    integratedTime: r.at('Payload.integratedTime').int64(p.integratedTime),
    inclusionPromise: { signedEntryTimestamp: set },
    canonicalizedBody: body,
  };
}

/** The Rekor bundle annotation value for a log entry (what `sigil sign` attaches). */
export function cosignRekorBundleAnnotation(e: TransparencyLogEntry): string {
  if (!e.inclusionPromise)
    throw new SigilError('INVALID_ENTRY', 'a cosign bundle annotation needs the entry SET');
  const p = setPayloadOf(e);
  const payload: Json = {
    body: p.body,
    integratedTime: p.integratedTime,
    logIndex: p.logIndex,
    logID: p.logID,
  };
  return JSON.stringify({
    SignedEntryTimestamp: e.inclusionPromise.signedEntryTimestamp.toString('base64'),
    Payload: payload,
  });
}

function certificatesFromPem(text: string, what: string): Buffer[] {
  const blocks = pemBlocks(text);
  if (blocks.some((b) => b.type !== 'CERTIFICATE'))
    throw new SigilError('INVALID_CERTIFICATE', `${what} holds a non-certificate PEM block`);
  return blocks.map((b) => b.der);
}

/** cosign's `{"SignedRFC3161Timestamp": "<base64 DER>"}`. */
function parseTimestampAnnotation(text: string): Buffer {
  const what = COSIGN_ANNOTATIONS.rfc3161Timestamp;
  if (text.length > 64 * 1024)
    throw new SigilError('INVALID_SIGNATURE', `the ${what} annotation is too large`);
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    throw new SigilError('INVALID_SIGNATURE', `the ${what} annotation is not JSON`);
  }
  const b64 = (o as { SignedRFC3161Timestamp?: unknown } | null)?.SignedRFC3161Timestamp;
  if (typeof b64 !== 'string')
    throw new SigilError('INVALID_SIGNATURE', `the ${what} annotation lacks SignedRFC3161Timestamp`);
  return new FieldReader('INVALID_SIGNATURE', what).bytes(b64, 48 * 1024);
}

/** Converts a cosign signature layer (payload + annotations) into a verifiable item. */
export function cosignLayerToItem(layer: CosignSignatureLayer): CosignSignatureItem {
  const a = layer.annotations;
  const payload = Buffer.from(layer.payload);
  const sigText = a[COSIGN_ANNOTATIONS.signature];
  if (sigText === undefined)
    throw new SigilError('INVALID_SIGNATURE', `layer lacks the ${COSIGN_ANNOTATIONS.signature} annotation`);
  const signature = new FieldReader('INVALID_SIGNATURE', COSIGN_ANNOTATIONS.signature).bytes(
    sigText,
    16 * 1024,
  );
  if (signature.length === 0) throw new SigilError('INVALID_SIGNATURE', 'the signature annotation is empty');
  const simpleSigning = parseSimpleSigningPayload(payload);
  const certPem = a[COSIGN_ANNOTATIONS.certificate];
  let certificate: Buffer | undefined;
  if (certPem) {
    const certs = certificatesFromPem(certPem, 'the certificate annotation');
    if (certs.length !== 1)
      throw new SigilError(
        'INVALID_CERTIFICATE',
        'the certificate annotation must hold exactly one certificate',
      );
    certificate = certs[0];
  }
  const chain = a[COSIGN_ANNOTATIONS.chain]
    ? certificatesFromPem(a[COSIGN_ANNOTATIONS.chain]!, 'the chain annotation')
    : [];
  if (chain.length > BUNDLE_LIMITS.maxChainCertificates - 1)
    throw new SigilError('INVALID_CERTIFICATE', 'the chain annotation holds too many certificates');
  const bundleText = a[COSIGN_ANNOTATIONS.bundle];
  const tlogEntry = bundleText ? parseCosignRekorBundle(bundleText) : undefined;
  const bundle: Bundle = {
    mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1',
    version: '0.1',
    verificationMaterial: {
      content: certificate
        ? { kind: 'x509CertificateChain', certificates: [certificate, ...chain] }
        : { kind: 'publicKey', hint: '' },
      tlogEntries: tlogEntry ? [tlogEntry] : [],
      rfc3161Timestamps: [],
    },
    content: {
      kind: 'messageSignature',
      messageDigest: { algorithm: 'SHA2_256', digest: sha256(payload) },
      signature,
    },
  };
  const item: CosignSignatureItem = { payload, simpleSigning, signature, chain, bundle };
  if (certificate) item.certificate = certificate;
  if (tlogEntry) item.tlogEntry = tlogEntry;
  const tsText = a[COSIGN_ANNOTATIONS.rfc3161Timestamp];
  if (tsText) item.rfc3161Timestamp = parseTimestampAnnotation(tsText);
  return item;
}
