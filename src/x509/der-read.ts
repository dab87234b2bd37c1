import { SigilError } from '../errors/index.js';

/**
 * A minimal, bounds-checked DER reader for the read side of X.509 (certificates come from
 * untrusted bundles, so every length is checked against its enclosing element).
 */
export interface Tlv {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  /** Offset of the first value byte. */
  valueStart: number;
  /** Offset one past the last value byte. */
  end: number;
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

const MAX_DEPTH_LENGTH_BYTES = 4;

function fail(what: string): never {
  throw new SigilError('INVALID_CERTIFICATE', `malformed DER: ${what}`);
}

/** Reads one TLV at `offset`, which must end at or before `limit`. */
export function readTlv(buf: Buffer, offset: number, limit = buf.length): Tlv {
  if (offset + 2 > limit) fail('truncated element');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) fail('high tag numbers are not supported');
  let lenByte = buf[offset + 1]!;
  let pos = offset + 2;
  let length: number;
  if (lenByte < 0x80) {
    length = lenByte;
  } else {
    lenByte &= 0x7f;
    if (lenByte === 0) fail('indefinite length');
    if (lenByte > MAX_DEPTH_LENGTH_BYTES) fail('length too large');
    if (pos + lenByte > limit) fail('truncated length');
    if (buf[pos] === 0) fail('non-minimal length');
    length = 0;
    for (let i = 0; i < lenByte; i++) length = length * 256 + buf[pos + i]!;
    pos += lenByte;
    if (length < 0x80) fail('non-minimal length');
  }
  const end = pos + length;
  if (end > limit) fail('element overruns its container');
  return { tag, start: offset, valueStart: pos, end };
}

/** The single element spanning exactly `buf` (or buf[start, end)). */
export function readOnly(buf: Buffer, start = 0, end = buf.length): Tlv {
  const t = readTlv(buf, start, end);
  if (t.end !== end) fail('trailing bytes');
  return t;
}

export function expectTag(t: Tlv, tag: number, what: string): Tlv {
  if (t.tag !== tag) fail(`${what}: expected tag 0x${tag.toString(16)}, got 0x${t.tag.toString(16)}`);
  return t;
}

/** Children of a constructed element. */
export function children(buf: Buffer, parent: Tlv): Tlv[] {
  if ((parent.tag & 0x20) === 0) fail('expected a constructed element');
  const out: Tlv[] = [];
  let pos = parent.valueStart;
  while (pos < parent.end) {
    const c = readTlv(buf, pos, parent.end);
    out.push(c);
    pos = c.end;
    if (out.length > 10_000) fail('too many elements');
  }
  return out;
}

export const valueOf = (buf: Buffer, t: Tlv): Buffer => buf.subarray(t.valueStart, t.end);
export const bytesOf = (buf: Buffer, t: Tlv): Buffer => buf.subarray(t.start, t.end);

/** Decoded OIDs by their content bytes: the same few dozen recur in every certificate. */
const oidMemo = new Map<string, string>();
const MAX_MEMO_OIDS = 1024;

export function decodeOid(buf: Buffer, t: Tlv): string {
  expectTag(t, TAG.OID, 'object identifier');
  const v = valueOf(buf, t);
  if (v.length === 0 || v.length > 128) fail('object identifier length');
  const key = v.toString('latin1');
  let dotted = oidMemo.get(key);
  if (dotted === undefined) {
    dotted = oidText(v);
    if (oidMemo.size >= MAX_MEMO_OIDS) oidMemo.clear();
    oidMemo.set(key, dotted);
  }
  return dotted;
}

function oidText(v: Buffer): string {
  const arcs: number[] = [];
  let acc = 0;
  for (let i = 0; i < v.length; i++) {
    const b = v[i]!;
    if (acc === 0 && b === 0x80) fail('non-minimal object identifier arc');
    acc = acc * 128 + (b & 0x7f);
    if (acc > Number.MAX_SAFE_INTEGER / 128) fail('object identifier arc too large');
    if ((b & 0x80) === 0) {
      arcs.push(acc);
      acc = 0;
    } else if (i === v.length - 1) {
      fail('truncated object identifier');
    }
  }
  const first = arcs[0]!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join('.');
}

export function decodeBoolean(buf: Buffer, t: Tlv): boolean {
  expectTag(t, TAG.BOOLEAN, 'boolean');
  const v = valueOf(buf, t);
  if (v.length !== 1 || (v[0] !== 0 && v[0] !== 0xff)) fail('boolean value');
  return v[0] === 0xff;
}

/** A small non-negative INTEGER (path lengths and the like). */
export function decodeSmallInteger(buf: Buffer, t: Tlv): number {
  expectTag(t, TAG.INTEGER, 'integer');
  const v = valueOf(buf, t);
  if (v.length === 0 || v.length > 6 || (v[0]! & 0x80) !== 0) fail('integer out of range');
  let n = 0;
  for (const b of v) n = n * 256 + b;
  return n;
}

/** UTF8String, PrintableString or IA5String as text. */
export function decodeString(buf: Buffer, t: Tlv): string {
  if (t.tag !== TAG.UTF8_STRING && t.tag !== TAG.PRINTABLE_STRING && t.tag !== TAG.IA5_STRING) {
    fail(`expected a string, got tag 0x${t.tag.toString(16)}`);
  }
  return valueOf(buf, t).toString('utf8');
}

export function decodeBitString(buf: Buffer, t: Tlv): { unused: number; bytes: Buffer } {
  expectTag(t, TAG.BIT_STRING, 'bit string');
  const v = valueOf(buf, t);
  if (v.length === 0 || v[0]! > 7 || (v.length === 1 && v[0] !== 0)) fail('bit string');
  return { unused: v[0]!, bytes: v.subarray(1) };
}

/** UTCTime or GeneralizedTime (Z only, optional fractional seconds) as a Date. */
export function decodeTime(buf: Buffer, t: Tlv): Date {
  const s = valueOf(buf, t).toString('latin1');
  let m: RegExpExecArray | null;
  let year: number;
  let rest: string[];
  if (t.tag === TAG.UTC_TIME) {
    m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
    if (!m) fail('UTCTime');
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
    rest = m.slice(2, 7);
  } else if (t.tag === TAG.GENERALIZED_TIME) {
    m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,9}))?Z$/.exec(s);
    if (!m) fail('GeneralizedTime');
    year = Number(m[1]);
    rest = m.slice(2, 7);
  } else {
    fail('expected a time');
  }
  const [mo, d, h, mi, se] = rest.map(Number) as [number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) fail('time out of range');
  return new Date(Date.UTC(year, mo - 1, d, h, mi, se));
}
