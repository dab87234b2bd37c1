/**
 * Byte strings packed into one fresh ArrayBuffer with their lengths, for a hop between threads:
 * the buffer is transferred, not cloned, so many small Buffers cost one copy on the sending side
 * instead of a structured clone each; the receiver gets Buffer views onto it. Pure.
 */
export interface PackedBytes {
  lengths: Uint32Array;
  bytes: ArrayBuffer;
}

export function packBytes(items: readonly Uint8Array[]): PackedBytes {
  const lengths = new Uint32Array(items.length);
  let size = 0;
  items.forEach((b, i) => {
    lengths[i] = b.length;
    size += b.length;
  });
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const b of items) {
    bytes.set(b, at);
    at += b.length;
  }
  return { lengths, bytes: bytes.buffer };
}

export function unpackBytes(p: PackedBytes): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (const length of p.lengths) {
    out.push(Buffer.from(p.bytes, at, length));
    at += length;
  }
  return out;
}
