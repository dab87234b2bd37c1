import { SigilError } from '../errors/index.js';
import { parseJsonBounded } from '../server/json-depth.js';
import { parseDigest } from './reference.js';

export const COSIGN_SIGNATURE_TYPE = 'cosign container image signature';
export const MAX_PAYLOAD_BYTES = 1024 * 1024;

export interface SimpleSigningPayload {
  /** The repository, fully qualified, without tag or digest (`index.docker.io/library/x` for Docker Hub). */
  dockerReference: string;
  /** `sha256:<hex>` of the signed manifest. */
  digest: string;
  /** cosign's `-a key=value` annotations, or null. */
  optional: Record<string, unknown> | null;
}

/** JSON as Go's encoding/json writes it: no whitespace and HTML-sensitive characters escaped. */
export function goJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function sortedKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.keys(o)
      .sort()
      .map((k) => [k, o[k]]),
  );
}

/**
 * The exact bytes cosign signs for an image: sigstore's simple-signing payload in Go struct
 * order (critical.identity, critical.image, critical.type, then optional with sorted keys).
 */
export function buildSimpleSigningPayload(
  dockerReference: string,
  digest: string,
  optional: Record<string, unknown> | null = null,
): Buffer {
  parseDigest(digest);
  const doc = {
    critical: {
      identity: { 'docker-reference': dockerReference },
      image: { 'docker-manifest-digest': digest },
      type: COSIGN_SIGNATURE_TYPE,
    },
    optional: optional && Object.keys(optional).length > 0 ? sortedKeys(optional) : null,
  };
  return Buffer.from(goJson(doc), 'utf8');
}

function bad(why: string): never {
  throw new SigilError('INVALID_INPUT', `invalid simple-signing payload: ${why}`);
}

/** Parses and checks a simple-signing payload (type, digest shape); does not verify anything. */
export function parseSimpleSigningPayload(bytes: Uint8Array): SimpleSigningPayload {
  if (bytes.length > MAX_PAYLOAD_BYTES)
    throw new SigilError('TOO_LARGE', `simple-signing payload larger than ${MAX_PAYLOAD_BYTES} bytes`);
  let doc: unknown;
  try {
    doc = parseJsonBounded(Buffer.from(bytes).toString('utf8'));
  } catch {
    bad('not JSON');
  }
  const o = doc as { critical?: unknown; optional?: unknown } | null;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) bad('not an object');
  const c = o.critical as
    | {
        identity?: { 'docker-reference'?: unknown };
        image?: { 'docker-manifest-digest'?: unknown };
        type?: unknown;
      }
    | undefined;
  if (typeof c !== 'object' || c === null) bad('missing "critical"');
  if (c.type !== COSIGN_SIGNATURE_TYPE) bad(`critical.type must be ${JSON.stringify(COSIGN_SIGNATURE_TYPE)}`);
  const ref = c.identity?.['docker-reference'];
  if (typeof ref !== 'string') bad('missing critical.identity.docker-reference');
  const digest = c.image?.['docker-manifest-digest'];
  if (typeof digest !== 'string') bad('missing critical.image.docker-manifest-digest');
  try {
    parseDigest(digest);
  } catch (e) {
    bad((e as Error).message);
  }
  const optional = o.optional;
  if (
    optional !== undefined &&
    optional !== null &&
    (typeof optional !== 'object' || Array.isArray(optional))
  )
    bad('optional must be an object or null');
  return {
    dockerReference: ref,
    digest,
    optional: (optional as Record<string, unknown> | null | undefined) ?? null,
  };
}
