/**
 * PostgreSQL binary wire format for the log's bulk parameters and results. An array parameter
 * sent as one binary Buffer (array_recv format) costs a memcpy per element on both ends, where
 * node-postgres's default text form hex-encodes every bytea (2× its size) for the server to parse
 * back. (Results stay in text form: node-postgres 8 decodes every result field as UTF-8.)
 */

const OID = { bytea: 17, int8: 20, int2: 21, text: 25 } as const;

function encodeArray(oid: number, items: readonly Buffer[]): Buffer {
  if (items.length === 0) {
    const b = Buffer.alloc(12);
    b.writeUInt32BE(oid, 8);
    return b;
  }
  let size = 20;
  for (const x of items) size += 4 + x.length;
  const out = Buffer.allocUnsafe(size);
  out.writeInt32BE(1, 0); // one dimension
  out.writeInt32BE(0, 4); // no NULLs
  out.writeUInt32BE(oid, 8);
  out.writeInt32BE(items.length, 12);
  out.writeInt32BE(1, 16); // lower bound
  let at = 20;
  for (const x of items) {
    out.writeInt32BE(x.length, at);
    x.copy(out, at + 4);
    at += 4 + x.length;
  }
  return out;
}

function fixedWidthArray(oid: number, width: 2 | 8, values: readonly number[]): Buffer {
  if (values.length === 0) return encodeArray(oid, []);
  const out = Buffer.allocUnsafe(20 + values.length * (4 + width));
  out.writeInt32BE(1, 0);
  out.writeInt32BE(0, 4);
  out.writeUInt32BE(oid, 8);
  out.writeInt32BE(values.length, 12);
  out.writeInt32BE(1, 16);
  let at = 20;
  for (const v of values) {
    out.writeInt32BE(width, at);
    if (width === 8) out.writeBigInt64BE(BigInt(v), at + 4);
    else out.writeInt16BE(v, at + 4);
    at += 4 + width;
  }
  return out;
}

/** A bytea[] parameter (use with `$n::bytea[]`). */
export function byteaArray(items: readonly Buffer[]): Buffer {
  return encodeArray(OID.bytea, items);
}

/** A text[] parameter (use with `$n::text[]`). */
export function textArray(items: readonly string[]): Buffer {
  return encodeArray(
    OID.text,
    items.map((s) => Buffer.from(s, 'utf8')),
  );
}

/** A bigint[] parameter of safe integers (use with `$n::bigint[]`). */
export function int8Array(values: readonly number[]): Buffer {
  return fixedWidthArray(OID.int8, 8, values);
}

/** A smallint[] parameter (use with `$n::smallint[]`). */
export function int2Array(values: readonly number[]): Buffer {
  return fixedWidthArray(OID.int2, 2, values);
}
