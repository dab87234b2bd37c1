import { SigilError, type ErrorCode } from '../errors/index.js';
import { digest as hashWith } from '../crypto/index.js';
import { parseJsonBounded } from '../server/json-depth.js';
import { parseDigest } from './reference.js';
import { MEDIA_TYPES, type Descriptor, type Manifest } from './media-types.js';

/** Manifests larger than this are refused (CVE-2024-29902 class). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Attachments (signature/attestation layers, blobs read into memory) larger than this are refused. */
export const MAX_ATTACHMENT_BYTES = 128 * 1024 * 1024;
/** Descriptors in one manifest or index, and signatures read per image (CVE-2023-46737 class). */
export const MAX_DESCRIPTORS = 1000;
export const MAX_SIGNATURES = 100;

/** `sha256:<hex>` (or sha512) of the bytes. */
export function computeDigest(bytes: Uint8Array, algorithm: 'sha256' | 'sha512' = 'sha256'): string {
  return `${algorithm}:${hashWith(algorithm, bytes).toString('hex')}`;
}

/** Throws DIGEST_MISMATCH unless the bytes hash to `expected` (with `expected`'s algorithm). */
export function assertDigest(bytes: Uint8Array, expected: string, what = 'content'): void {
  const { algorithm } = parseDigest(expected);
  const actual = computeDigest(bytes, algorithm);
  if (actual !== expected) {
    throw new SigilError(
      'DIGEST_MISMATCH',
      `digest mismatch for ${what}: expected ${expected}, received ${actual}`,
    );
  }
}

function fail(code: ErrorCode, why: string): never {
  throw new SigilError(code, `invalid manifest: ${why}`);
}

function checkAnnotations(a: unknown, where: string): void {
  if (a === undefined) return;
  if (typeof a !== 'object' || a === null || Array.isArray(a))
    fail('INVALID_INPUT', `${where}.annotations must be an object`);
  for (const [k, v] of Object.entries(a))
    if (typeof v !== 'string')
      fail('INVALID_INPUT', `${where}.annotations[${JSON.stringify(k)}] must be a string`);
}

export function checkDescriptor(d: unknown, where: string): Descriptor {
  if (typeof d !== 'object' || d === null || Array.isArray(d))
    fail('INVALID_INPUT', `${where} must be an object`);
  const o = d as Record<string, unknown>;
  if (typeof o.mediaType !== 'string' || o.mediaType.length === 0 || o.mediaType.length > 255)
    fail('INVALID_INPUT', `${where}.mediaType must be a string`);
  if (typeof o.digest !== 'string') fail('INVALID_INPUT', `${where}.digest must be a string`);
  try {
    parseDigest(o.digest);
  } catch (e) {
    fail('INVALID_INPUT', `${where}.digest: ${(e as Error).message}`);
  }
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0)
    fail('INVALID_INPUT', `${where}.size must be a non-negative integer`);
  if (o.artifactType !== undefined && typeof o.artifactType !== 'string')
    fail('INVALID_INPUT', `${where}.artifactType must be a string`);
  checkAnnotations(o.annotations, where);
  return o as unknown as Descriptor;
}

/**
 * Parses and structurally validates an image manifest or index (OCI or Docker v2.2). The
 * media type comes from the document or, failing that, from the Content-Type it was served with.
 */
export function parseManifest(
  bytes: Uint8Array,
  contentType?: string,
): { manifest: Manifest; mediaType: string } {
  if (bytes.length > MAX_MANIFEST_BYTES)
    throw new SigilError('TOO_LARGE', `manifest larger than ${MAX_MANIFEST_BYTES} bytes`);
  let doc: unknown;
  try {
    doc = parseJsonBounded(Buffer.from(bytes).toString('utf8'));
  } catch (e) {
    fail('INVALID_INPUT', `not JSON (${(e as Error).message})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    fail('INVALID_INPUT', 'not a JSON object');
  const o = doc as Record<string, unknown>;
  if (o.schemaVersion !== 2) fail('INVALID_INPUT', 'schemaVersion must be 2');
  const headerType = contentType?.split(';')[0]?.trim();
  const mediaType = typeof o.mediaType === 'string' ? o.mediaType : headerType;
  checkAnnotations(o.annotations, 'manifest');
  if (o.subject !== undefined) checkDescriptor(o.subject, 'subject');
  if (Array.isArray(o.manifests)) {
    if (o.manifests.length > MAX_DESCRIPTORS)
      throw new SigilError('TOO_LARGE', `index lists more than ${MAX_DESCRIPTORS} manifests`);
    o.manifests.forEach((d, i) => checkDescriptor(d, `manifests[${i}]`));
    return { manifest: o as unknown as Manifest, mediaType: mediaType ?? MEDIA_TYPES.ociIndex };
  }
  if (o.config === undefined || !Array.isArray(o.layers))
    fail('INVALID_INPUT', 'needs config and layers (or manifests)');
  checkDescriptor(o.config, 'config');
  if (o.layers.length > MAX_DESCRIPTORS)
    throw new SigilError('TOO_LARGE', `manifest lists more than ${MAX_DESCRIPTORS} layers`);
  o.layers.forEach((d, i) => checkDescriptor(d, `layers[${i}]`));
  return { manifest: o as unknown as Manifest, mediaType: mediaType ?? MEDIA_TYPES.ociManifest };
}
