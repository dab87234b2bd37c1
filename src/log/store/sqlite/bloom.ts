/**
 * A Bloom filter over 8-byte leaf-hash prefixes (uniformly random, so their bytes serve as the
 * hash functions: double hashing from the two 32-bit halves). About 10 bits per member and 7
 * probes: roughly 1 % false positives, never a false negative. Pure.
 */
export class Bloom {
  static readonly PROBES = 7;
  static readonly BITS_PER_MEMBER = 10;
  private readonly m: number;

  constructor(readonly bits: Uint8Array) {
    this.m = bits.length * 8;
  }

  static forMembers(n: number): Bloom {
    return new Bloom(new Uint8Array(Math.max(64, Math.ceil((n * Bloom.BITS_PER_MEMBER) / 8))));
  }

  /** `prefix` holds the 8 bytes at `offset`. */
  add(prefix: Uint8Array, offset = 0): void {
    const m = this.m;
    const h1 = readU32(prefix, offset);
    const h2 = (readU32(prefix, offset + 4) | 1) >>> 0;
    for (let i = 0; i < Bloom.PROBES; i++) {
      const bit = (h1 + i * h2) % m;
      this.bits[bit >>> 3]! |= 1 << (bit & 7);
    }
  }

  mightContain(prefix: Uint8Array, offset = 0): boolean {
    const m = this.m;
    const h1 = readU32(prefix, offset);
    const h2 = (readU32(prefix, offset + 4) | 1) >>> 0;
    for (let i = 0; i < Bloom.PROBES; i++) {
      const bit = (h1 + i * h2) % m;
      if ((this.bits[bit >>> 3]! & (1 << (bit & 7))) === 0) return false;
    }
    return true;
  }
}

function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}
