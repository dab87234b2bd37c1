// Small measuring helpers shared by the benchmarks.
import { generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';

/** The machine's raw single-core ECDSA P-256 verify rate (node:crypto), per second, over `ms`. */
export function rawVerifyRate(ms = 1000): number {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const data = randomBytes(64);
  const sig = sign('sha256', data, privateKey);
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    for (let i = 0; i < 100; i++) verify('sha256', data, publicKey, sig);
    n += 100;
  }
  return n / ((performance.now() - start) / 1000);
}

/** The `p`th percentile (0–100) of ascending `sorted`; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Two decimals. */
export const round = (n: number): number => Math.round(n * 100) / 100;
