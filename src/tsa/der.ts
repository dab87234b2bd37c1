/*
 * The few DER writers the template token builder needs (X.690 §8, §10): a TLV with a definite
 * length in its shortest form, INTEGER from content bytes, GeneralizedTime in whole seconds.
 * Everything else in a token is copied from bytes the ASN.1 library encoded at start-up.
 */

export const TAG = {
  integer: 0x02,
  octetString: 0x04,
  oid: 0x06,
  sequence: 0x30,
  set: 0x31,
  generalizedTime: 0x18,
  context0: 0xa0,
} as const;

/** Bytes of the header (tag + definite length) of a TLV whose content is `length` bytes. */
function headerLength(length: number): number {
  if (length < 0x80) return 2;
  if (length < 0x100) return 3;
  if (length < 0x10000) return 4;
  if (length < 0x1000000) return 5;
  throw new RangeError('DER length beyond 16 MiB');
}

function writeHeader(out: Buffer, at: number, tag: number, length: number): number {
  out[at++] = tag;
  if (length < 0x80) {
    out[at++] = length;
    return at;
  }
  const n = headerLength(length) - 2;
  out[at++] = 0x80 | n;
  for (let i = n - 1; i >= 0; i--) out[at++] = (length >>> (8 * i)) & 0xff;
  return at;
}

/** One TLV around the concatenation of `parts` (one allocation). */
export function tlv(tag: number, parts: readonly Uint8Array[]): Buffer {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = Buffer.allocUnsafe(headerLength(length) + length);
  let at = writeHeader(out, 0, tag, length);
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The header alone, for content written after it by the caller. */
export function header(tag: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(headerLength(length));
  writeHeader(out, 0, tag, length);
  return out;
}

/** INTEGER with these content bytes as given (already minimal two's complement, or echoed). */
export const integer = (contents: Uint8Array): Buffer => tlv(TAG.integer, [contents]);

const two = (n: number): string => (n < 10 ? `0${n}` : String(n));

/**
 * GeneralizedTime `YYYYMMDDHHMMSSZ` (RFC 5280 §4.1.2.5.2 form; DER forbids a zero fraction).
 * Only whole seconds: callers with a fraction use the library.
 */
export function generalizedTime(t: Date): Buffer {
  const y = t.getUTCFullYear();
  if (t.getUTCMilliseconds() !== 0 || y < 1000 || y > 9999)
    throw new RangeError('generalizedTime: whole seconds in years 1000–9999 only');
  const s = `${y}${two(t.getUTCMonth() + 1)}${two(t.getUTCDate())}${two(t.getUTCHours())}${two(t.getUTCMinutes())}${two(t.getUTCSeconds())}Z`;
  const out = Buffer.allocUnsafe(17);
  out[0] = TAG.generalizedTime;
  out[1] = 15;
  out.write(s, 2, 'latin1');
  return out;
}
