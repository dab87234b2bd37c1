import { createHash } from 'node:crypto';

export type HashName = 'sha256' | 'sha384' | 'sha512';

export const DIGEST_LENGTH: Record<HashName, number> = { sha256: 32, sha384: 48, sha512: 64 };

export function digest(alg: HashName, ...parts: Uint8Array[]): Buffer {
  const h = createHash(alg);
  for (const p of parts) h.update(p);
  return h.digest();
}

export const sha256 = (...parts: Uint8Array[]): Buffer => digest('sha256', ...parts);
export const sha256Hex = (...parts: Uint8Array[]): string => sha256(...parts).toString('hex');
