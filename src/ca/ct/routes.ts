import type { FastifyInstance } from 'fastify';
import { SigilError } from '../../errors/index.js';
import { fromBase64, toPem } from '../../crypto/index.js';
import type { CtLog } from './log.js';

export const MAX_GET_ENTRIES = 256;

/** RFC 6962 read endpoints of the CT log, plus its public key for trusted roots. */
export function registerCtRoutes(app: FastifyInstance, ct: CtLog): void {
  const log = ct.log;
  app.get('/ct/v1/get-sth', async () => {
    const th = log.latestTreeHead();
    return {
      tree_size: th.size,
      timestamp: th.timestamp,
      sha256_root_hash: th.rootHash.toString('base64'),
      tree_head_signature: th.signed,
    };
  });
  app.get('/ct/v1/get-sth-consistency', async (req) => {
    const q = req.query as Record<string, unknown>;
    const first = index(q.first, 'first');
    const second = index(q.second, 'second');
    const size = log.latestTreeHead().size;
    if (first > second || second > size)
      throw new SigilError('INVALID_INPUT', `need first ≤ second ≤ ${size}`);
    const proof = first === 0 ? [] : await log.consistencyProof(first, second);
    return { consistency: proof.map((h) => h.toString('base64')) };
  });
  app.get('/ct/v1/get-proof-by-hash', async (req) => {
    const q = req.query as Record<string, unknown>;
    const hash = fromBase64(q.hash, 'hash');
    if (hash.length !== 32) throw new SigilError('INVALID_INPUT', 'hash must be 32 bytes');
    const treeSize = index(q.tree_size, 'tree_size');
    if (treeSize < 1 || treeSize > log.latestTreeHead().size)
      throw new SigilError('INVALID_INPUT', 'tree_size out of range');
    const entry = await log.findByLeafHash(hash);
    if (!entry || entry.index >= treeSize)
      throw new SigilError('NOT_FOUND', 'no entry with that leaf hash in the tree');
    const path = await log.inclusionProof(entry.index, treeSize);
    return { leaf_index: entry.index, audit_path: path.map((h) => h.toString('base64')) };
  });
  app.get('/ct/v1/get-entries', async (req) => {
    const q = req.query as Record<string, unknown>;
    const start = index(q.start, 'start');
    const end = index(q.end, 'end');
    const size = log.latestTreeHead().size;
    if (end < start || start >= size)
      throw new SigilError('INVALID_INPUT', `need start ≤ end and start < ${size}`);
    const last = Math.min(end, size - 1, start + MAX_GET_ENTRIES - 1);
    const entries = await log.getEntries(start, last - start + 1);
    const extra = await ct.extraData(entries);
    return {
      entries: entries.map((e) => ({
        leaf_input: e.leaf.toString('base64'),
        extra_data: (extra.get(e.index) ?? Buffer.alloc(0)).toString('base64'),
      })),
    };
  });
  app.get('/ct/v1/public-key', async (_req, reply) => {
    reply.type('application/x-pem-file');
    return toPem('PUBLIC KEY', ct.publicKeyDer);
  });
}

function index(v: unknown, name: string): number {
  if (typeof v !== 'string' || !/^\d{1,15}$/.test(v))
    throw new SigilError('INVALID_INPUT', `${name} must be a non-negative integer`);
  return Number(v);
}
