import { SigilError } from '../errors/index.js';

/** Rekor v1 entry ID: 16 hex of the tree ID, then 64 hex of the RFC 6962 leaf hash. */
export function entryId(treeId: string, leafHash: Uint8Array): string {
  return treeIdHex(treeId) + Buffer.from(leafHash).toString('hex');
}

export function treeIdHex(treeId: string): string {
  return BigInt(treeId).toString(16).padStart(16, '0');
}

export interface ParsedEntryId {
  /** Present for an 80-hex ID. */
  treeIdHex?: string;
  leafHash: Buffer;
}

/** Accepts an 80-hex entry ID or a bare 64-hex leaf hash (UUID); anything else is INVALID_INPUT. */
export function parseEntryId(id: unknown): ParsedEntryId {
  if (typeof id !== 'string' || !/^(?:[0-9a-fA-F]{64}|[0-9a-fA-F]{80})$/.test(id)) {
    throw new SigilError('INVALID_INPUT', 'entry ID must be 64 or 80 hex characters');
  }
  const lower = id.toLowerCase();
  if (lower.length === 64) return { leafHash: Buffer.from(lower, 'hex') };
  return { treeIdHex: lower.slice(0, 16), leafHash: Buffer.from(lower.slice(16), 'hex') };
}
