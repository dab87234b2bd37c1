import { SigilError } from '../../errors/index.js';

/** Largest entry an entry bundle can hold (big-endian uint16 length prefix). */
export const MAX_BUNDLED_ENTRY = 0xffff;

/** C2SP entry bundle: each entry as a big-endian uint16 length and its bytes. */
export function encodeEntryBundle(entries: readonly Uint8Array[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    if (e.length > MAX_BUNDLED_ENTRY) {
      throw new SigilError(
        'TOO_LARGE',
        `an entry of ${e.length} bytes does not fit a tlog-tiles entry bundle (max ${MAX_BUNDLED_ENTRY})`,
      );
    }
    const len = Buffer.alloc(2);
    len.writeUInt16BE(e.length);
    parts.push(len, Buffer.from(e.buffer, e.byteOffset, e.length));
  }
  return Buffer.concat(parts);
}

/** Splits an entry bundle; INVALID_INPUT when a length runs past the end. */
export function decodeEntryBundle(bundle: Uint8Array): Buffer[] {
  const b = Buffer.from(bundle.buffer, bundle.byteOffset, bundle.length);
  const out: Buffer[] = [];
  let at = 0;
  while (at < b.length) {
    if (at + 2 > b.length) throw new SigilError('INVALID_INPUT', 'entry bundle ends inside a length prefix');
    const len = b.readUInt16BE(at);
    if (at + 2 + len > b.length) throw new SigilError('INVALID_INPUT', 'entry bundle ends inside an entry');
    out.push(b.subarray(at + 2, at + 2 + len));
    at += 2 + len;
  }
  return out;
}
