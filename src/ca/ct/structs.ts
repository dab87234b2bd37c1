/** RFC 6962 byte structures of the CT personality (pure). */

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u24(n: number): Buffer {
  return Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
}

function u64(n: bigint | number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

/** MerkleTreeLeaf { v1, timestamped_entry, TimestampedEntry { ts, precert_entry, PreCert, extensions } }. */
export function precertLeaf(
  timestamp: bigint,
  issuerKeyHash: Buffer,
  tbs: Buffer,
  extensions = Buffer.alloc(0),
): Buffer {
  return Buffer.concat([
    Buffer.from([0, 0]),
    u64(timestamp),
    u16(1),
    issuerKeyHash,
    u24(tbs.length),
    tbs,
    u16(extensions.length),
    extensions,
  ]);
}

/** TreeHeadSignature { v1, tree_hash, timestamp, tree_size, sha256_root_hash }: what an STH signs. */
export function treeHeadSignedData(timestamp: number, size: number, rootHash: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0, 1]), u64(timestamp), u64(size), rootHash]);
}

/** TLS DigitallySigned { sha256, ecdsa, opaque<0..2^16-1> }. */
export function digitallySigned(signature: Buffer): Buffer {
  return Buffer.concat([Buffer.from([4, 3]), u16(signature.length), signature]);
}

/** ASN.1Cert list<0..2^24-1> contents: each certificate with its 24-bit length. */
export function encodeChain(chain: readonly Buffer[]): Buffer {
  return Buffer.concat(chain.map((c) => Buffer.concat([u24(c.length), c])));
}

/** PrecertChainEntry { ASN.1Cert pre_certificate; ASN.1Cert precertificate_chain<0..2^24-1> } (get-entries extra_data). */
export function precertChainEntry(precert: Buffer, chain: readonly Buffer[]): Buffer {
  return precertChainEntryFromEncodedChain(precert, encodeChain(chain));
}

export function precertChainEntryFromEncodedChain(precert: Buffer, encodedChain: Buffer): Buffer {
  return Buffer.concat([u24(precert.length), precert, u24(encodedChain.length), encodedChain]);
}
