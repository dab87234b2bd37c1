import { SigilError, type ErrorCode } from '../errors/index.js';
import { jsonNestsDeeperThan } from '../crypto/json-depth.js';

/**
 * Readers for protobuf-JSON (protojson) documents: lowerCamelCase fields, int64 as decimal
 * strings (numbers tolerated), bytes as standard or URL-safe base64, null for absent messages.
 * Every reader names the field path in its error.
 */
export type Json = Record<string, unknown>;

export class FieldReader {
  constructor(
    readonly code: ErrorCode,
    readonly path = '',
  ) {}

  at(field: string | number): FieldReader {
    return new FieldReader(
      this.code,
      typeof field === 'number' ? `${this.path}[${field}]` : this.path ? `${this.path}.${field}` : field,
    );
  }

  fail(message: string): never {
    throw new SigilError(this.code, `${this.path || 'document'}: ${message}`);
  }

  object(v: unknown): Json {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail('must be an object');
    return v as Json;
  }

  /** An optional message: undefined and null both mean absent. */
  optionalObject(v: unknown): Json | undefined {
    return v === undefined || v === null ? undefined : this.object(v);
  }

  array(v: unknown, max: number): unknown[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) this.fail('must be an array');
    if (v.length > max) this.fail(`has more than ${max} elements`);
    return v;
  }

  string(v: unknown, maxLength = 1024 * 1024): string {
    if (typeof v !== 'string') this.fail('must be a string');
    if (v.length > maxLength) this.fail(`is longer than ${maxLength} characters`);
    return v;
  }

  optionalString(v: unknown, maxLength?: number): string | undefined {
    return v === undefined || v === null ? undefined : this.string(v, maxLength);
  }

  /** int64/uint64: a decimal string or a safe JSON integer, ≥ 0. */
  int64(v: unknown): number {
    let n: number;
    if (typeof v === 'string' && /^(0|[1-9][0-9]{0,15})$/.test(v)) n = Number(v);
    else if (typeof v === 'number') n = v;
    else this.fail('must be a non-negative integer (decimal string)');
    if (!Number.isSafeInteger(n) || n < 0) this.fail('is out of range');
    return n;
  }

  bytes(v: unknown, maxBytes = 64 * 1024 * 1024): Buffer {
    // Line breaks inside base64 are skipped, as Go's and Node's decoders (hence every Sigstore client) do.
    const raw = this.string(v, Math.ceil((maxBytes * 4) / 3) * 2 + 4);
    const s = /[\r\n]/.test(raw) ? raw.replace(/[\r\n]/g, '') : raw;
    if (s.length > Math.ceil((maxBytes * 4) / 3) + 4) this.fail(`is longer than ${maxBytes} bytes`);
    if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(s) || s.replace(/=+$/, '').length % 4 === 1)
      this.fail('is not valid base64');
    const unpadded = s.replace(/=+$/, '');
    if (s.length !== unpadded.length && s.length % 4 !== 0) this.fail('has wrong base64 padding');
    return Buffer.from(unpadded.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  }

  /** RFC 3339 timestamp (protobuf Timestamp). */
  timestamp(v: unknown): Date {
    const s = this.string(v, 64);
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/.test(s))
      this.fail('is not an RFC 3339 timestamp');
    const d = new Date(s.replace(/(\.\d{3})\d+/, '$1'));
    if (Number.isNaN(d.getTime())) this.fail('is not a valid time');
    return d;
  }
}

/** Deeper than any Sigstore document or in-toto statement nests. */
export const MAX_JSON_DEPTH = 128;
/** Below this size even the deepest nesting parses quickly, so the scan is skipped. */
const DEPTH_SCAN_FROM = 64 * 1024;

/**
 * V8's JSON.parse is superlinear in nesting depth (a 10 MB `[[[[…` takes some 20 s): one linear
 * pass over large texts bounds the depth first. Throws `code` naming `what`.
 */
export function checkJsonDepth(text: string, code: ErrorCode, what: string): void {
  if (text.length < DEPTH_SCAN_FROM) return;
  if (jsonNestsDeeperThan(text, MAX_JSON_DEPTH))
    throw new SigilError(code, `${what} nests deeper than ${MAX_JSON_DEPTH} levels`);
}

/** JSON text (or bytes) → value, with a size bound; objects pass through. */
export function parseJsonInput(input: unknown, code: ErrorCode, what: string, maxBytes: number): unknown {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) return input;
  const size = typeof input === 'string' ? Buffer.byteLength(input) : input.length;
  if (size > maxBytes) throw new SigilError('TOO_LARGE', `${what} is larger than ${maxBytes} bytes`);
  const text = typeof input === 'string' ? input : Buffer.from(input).toString('utf8');
  checkJsonDepth(text, code, what);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new SigilError(code, `${what} is not valid JSON`, { cause: e });
  }
}

/** Protobuf Timestamp JSON: RFC 3339 UTC with milliseconds only when non-zero. */
export function formatTimestamp(d: Date): string {
  return d.toISOString().replace('.000Z', 'Z');
}
