import 'reflect-metadata';
import { OctetString } from '@peculiar/asn1-schema';
import { MessageImprint } from '@peculiar/asn1-tsp';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { arrayBufferOf, HASH_OIDS, isMinimalInteger } from './asn1.js';
import type { TimestampRequest } from './request.js';

/** The hash OIDs a request names, by their DER content bytes (hex). */
const HASH_BY_DER = new Map(
  Object.values(HASH_OIDS).map((oid) => [
    Buffer.from(
      oid
        .split('.')
        .slice(2)
        .map(Number)
        .reduce<number[]>((out, n) => [...out, ...base128(n)], [40 * 2 + 16]),
    ).toString('hex'),
    oid,
  ]),
);

function base128(n: number): number[] {
  const out = [n & 0x7f];
  for (n = Math.floor(n / 128); n > 0; n = Math.floor(n / 128)) out.unshift(0x80 | (n & 0x7f));
  return out;
}

const MAX_NONCE = 32;
const MAX_DIGEST = 64;

/**
 * TimeStampReq in the one shape OpenSSL, cosign and sigstore-go send (RFC 3161 §2.4.1):
 *   SEQUENCE { INTEGER 1, SEQUENCE { SEQUENCE { OID sha256|384|512, NULL? }, OCTET STRING },
 *              OID reqPolicy?, INTEGER nonce?, BOOLEAN certReq? }
 * read without the ASN.1 library, which costs ~60–80 µs per request (a third of a token's CPU).
 * Anything else — another algorithm, parameters, extensions, a long nonce, unusual lengths or
 * trailing fields — gives undefined, and the caller parses it with the library, which decides;
 * what this accepts it reads exactly as the library does (a differential property test).
 * `body` is already known to be one DER SEQUENCE spanning the whole buffer.
 */
export function parseCanonicalRequest(body: Buffer): TimestampRequest | undefined {
  const r = new Reader(body);
  const top = r.enter(0x30);
  if (top === undefined || top.end !== body.length) return undefined;
  const version = r.primitive(0x02);
  if (version === undefined || version.length !== 1 || version[0] !== 1) return undefined;
  const imprint = r.enter(0x30);
  if (imprint === undefined) return undefined;
  const alg = r.enter(0x30);
  if (alg === undefined) return undefined;
  const oid = r.primitive(0x06);
  const algorithm = oid && HASH_BY_DER.get(oid.toString('hex'));
  if (!algorithm) return undefined;
  let nullParams = false;
  if (r.at < alg.end) {
    const n = r.primitive(0x05);
    if (n === undefined || n.length !== 0 || r.at !== alg.end) return undefined;
    nullParams = true;
  } else if (r.at !== alg.end) return undefined;
  const digest = r.primitive(0x04);
  if (digest === undefined || digest.length > MAX_DIGEST || r.at !== imprint.end) return undefined;

  let policy: string | undefined;
  if (r.peek() === 0x06) {
    const p = r.primitive(0x06);
    policy = p && decodeOid(p);
    if (policy === undefined) return undefined;
  }
  let nonce: Buffer | undefined;
  if (r.peek() === 0x02) {
    nonce = r.primitive(0x02);
    if (nonce === undefined || nonce.length > MAX_NONCE || !isMinimalInteger(nonce)) return undefined;
  }
  let certReq = false;
  if (r.peek() === 0x01) {
    const b = r.primitive(0x01);
    if (b === undefined || b.length !== 1 || (b[0] !== 0 && b[0] !== 0xff)) return undefined;
    certReq = b[0] === 0xff;
  }
  if (r.at !== top.end) return undefined;
  return {
    imprint: new MessageImprint({
      hashAlgorithm: new AlgorithmIdentifier({ algorithm, ...(nullParams ? { parameters: null } : {}) }),
      hashedMessage: new OctetString(arrayBufferOf(digest)),
    }),
    certReq,
    extensionCount: 0,
    ...(nonce ? { nonce: arrayBufferOf(nonce) } : {}),
    ...(policy ? { policy } : {}),
  };
}

/** Dotted form of OID content; undefined for a non-minimal arc or one beyond 2^32 (the library reads it). */
function decodeOid(c: Buffer): string | undefined {
  if (c.length === 0 || c.length > 64) return undefined;
  const arcs: number[] = [];
  let n = 0;
  let started = false;
  for (const byte of c) {
    if (!started && byte === 0x80) return undefined;
    started = true;
    n = n * 128 + (byte & 0x7f);
    if (n > 0xffffffff) return undefined;
    if (byte & 0x80) continue;
    arcs.push(n);
    n = 0;
    started = false;
  }
  if (started) return undefined;
  const first = arcs[0]!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join('.');
}

/** A cursor over definite-length TLVs with one- or two-byte lengths. */
class Reader {
  at = 0;
  constructor(private readonly b: Buffer) {}

  peek(): number | undefined {
    return this.at < this.b.length ? this.b[this.at] : undefined;
  }

  private header(tag: number): { start: number; end: number } | undefined {
    const b = this.b;
    if (this.at + 2 > b.length || b[this.at] !== tag) return undefined;
    let len = b[this.at + 1]!;
    let start = this.at + 2;
    if (len === 0x81) {
      if (start + 1 > b.length) return undefined;
      len = b[start]!;
      start += 1;
    } else if (len === 0x82) {
      if (start + 2 > b.length) return undefined;
      len = b[start]! * 256 + b[start + 1]!;
      start += 2;
    } else if (len >= 0x80) return undefined;
    const end = start + len;
    return end <= b.length ? { start, end } : undefined;
  }

  /** Steps into a constructed TLV; returns where its content ends. */
  enter(tag: number): { end: number } | undefined {
    const h = this.header(tag);
    if (!h) return undefined;
    this.at = h.start;
    return { end: h.end };
  }

  /** Reads a primitive TLV's content and steps past it. */
  primitive(tag: number): Buffer | undefined {
    const h = this.header(tag);
    if (!h) return undefined;
    this.at = h.end;
    return this.b.subarray(h.start, h.end);
  }
}
