import { SigilError } from '../errors/index.js';

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const B64URL = /^[A-Za-z0-9_-]*$/;
const HEX = /^(?:[0-9a-fA-F]{2})*$/;

/** Strict standard base64 (padding required); throws INVALID_INPUT otherwise. */
export function fromBase64(s: unknown, what = 'base64 value'): Buffer {
  if (typeof s !== 'string' || !B64.test(s))
    throw new SigilError('INVALID_INPUT', `${what} is not valid base64`);
  return Buffer.from(s, 'base64');
}

export function fromBase64Url(s: string, what = 'base64url value'): Buffer {
  if (!B64URL.test(s)) throw new SigilError('INVALID_INPUT', `${what} is not valid base64url`);
  return Buffer.from(s, 'base64url');
}

export function fromHex(s: unknown, what = 'hex value', bytes?: number): Buffer {
  if (typeof s !== 'string' || !HEX.test(s))
    throw new SigilError('INVALID_INPUT', `${what} is not valid hex`);
  if (bytes !== undefined && s.length !== bytes * 2) {
    throw new SigilError('INVALID_INPUT', `${what} must be ${bytes * 2} hex characters`);
  }
  return Buffer.from(s, 'hex');
}

export const toBase64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
export const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/**
 * `before + middle + after` as bytes, where `before` and `after` are ASCII (written as latin1,
 * byte for byte) and `middle` is already UTF-8: a JSON answer around a non-ASCII literal encoded
 * once, without UTF-8 encoding the whole (two-byte) string.
 */
export function asciiAround(before: string, middle: Uint8Array, after: string): Buffer {
  const out = Buffer.allocUnsafe(before.length + middle.length + after.length);
  out.write(before, 0, 'latin1');
  out.set(middle, before.length);
  out.write(after, before.length + middle.length, 'latin1');
  return out;
}
