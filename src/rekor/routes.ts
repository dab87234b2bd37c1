import type { FastifyInstance, FastifyReply } from 'fastify';
import { SigilError } from '../errors/index.js';
import { fromBase64 } from '../crypto/index.js';
import { parseVerifierMaterial } from './kinds/index.js';
import { MAX_RETRIEVE_ITEMS, type RekorService } from './service.js';

const DECIMAL = /^(?:0|[1-9][0-9]{0,15})$/;

/** A non-negative safe integer from a query or JSON value; anything else is INVALID_INPUT. */
export function parseIndex(v: unknown, what: string): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && DECIMAL.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < 0)
    throw new SigilError('INVALID_INPUT', `${what} must be a non-negative integer`);
  return n;
}

function sendJsonText(reply: FastifyReply, status: number, text: string): FastifyReply {
  return reply.code(status).header('content-type', 'application/json; charset=utf-8').send(text);
}

function notFound(what: string): SigilError {
  return new SigilError('NOT_FOUND', `${what} not found`);
}

function asObject(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new SigilError('INVALID_INPUT', `${what} must be a JSON object`);
  return v as Record<string, unknown>;
}

function optionalList(v: unknown, what: string): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.length > MAX_RETRIEVE_ITEMS) {
    throw new SigilError('INVALID_INPUT', `${what} must be an array of at most ${MAX_RETRIEVE_ITEMS} items`);
  }
  return v;
}

/** The Rekor v1 API (WIRE §2.2–2.3) on a Fastify app, but for the append route (create-route.ts). */
export function registerRekorRoutes(app: FastifyInstance, svc: RekorService): void {
  app.get('/api/v1/log', async (_req, reply) => {
    const head = svc.log.latestTreeHead();
    const inactive = svc.shards.inactiveShardsJson();
    return reply.send({
      rootHash: head.rootHash.toString('hex'),
      treeSize: head.size,
      signedTreeHead: head.signed,
      treeID: svc.treeId,
      ...(inactive.length > 0 ? { inactiveShards: inactive } : {}),
    });
  });

  app.get('/api/v1/log/publicKey', async (req, reply) => {
    svc.shards.byTreeIdParam((req.query as Record<string, unknown>).treeID); // every shard shares the log key
    return reply.header('content-type', 'application/x-pem-file').send(svc.key.publicKeyPem);
  });

  app.get('/api/v1/log/proof', async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const log = svc.shards.byTreeIdParam(q.treeID).log;
    const first = q.firstSize === undefined ? 1 : parseIndex(q.firstSize, 'firstSize');
    if (q.lastSize === undefined) throw new SigilError('INVALID_INPUT', 'lastSize is required');
    const last = parseIndex(q.lastSize, 'lastSize');
    const size = log.latestTreeHead().size;
    if (first < 1) throw new SigilError('INVALID_INPUT', 'firstSize must be at least 1');
    if (first > last) throw new SigilError('INVALID_INPUT', 'firstSize must not exceed lastSize');
    if (last > size)
      throw new SigilError('INVALID_INPUT', `lastSize ${last} is beyond the tree size ${size}`);
    const [root, hashes] = await Promise.all([log.rootAt(last), log.consistencyProof(first, last)]);
    return reply.send({
      rootHash: root.toString('hex'),
      hashes: hashes.map((h) => Buffer.from(h).toString('hex')),
    });
  });

  app.get('/api/v1/log/entries', async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const index = parseIndex(q.logIndex, 'logIndex');
    const entry = await svc.byIndex(index);
    if (!entry) throw notFound(`entry at index ${index}`);
    return sendJsonText(reply, 200, `{${await svc.memberFor(entry)}}`);
  });

  app.get('/api/v1/log/entries/:id', async (req, reply) => {
    const { id } = req.params as { id: string };
    const entry = await svc.byId(id);
    if (!entry) throw notFound(`entry ${id}`);
    return sendJsonText(reply, 200, `{${await svc.memberFor(entry)}}`);
  });

  app.post('/api/v1/log/entries/retrieve', async (req, reply) => {
    const body = asObject(req.body, 'request body');
    const uuids = optionalList(body.entryUUIDs, 'entryUUIDs');
    const indexes = optionalList(body.logIndexes, 'logIndexes').map((v, i) =>
      parseIndex(v, `logIndexes[${i}]`),
    );
    const entries = optionalList(body.entries, 'entries');
    const total = uuids.length + indexes.length + entries.length;
    if (total === 0 || total > MAX_RETRIEVE_ITEMS) {
      throw new SigilError(
        'INVALID_INPUT',
        `name between 1 and ${MAX_RETRIEVE_ITEMS} entries in entryUUIDs, logIndexes and entries`,
      );
    }
    const found = [
      ...(await Promise.all(uuids.map((u) => svc.allById(u)))).flat(),
      ...(await Promise.all(indexes.map((i) => svc.byIndex(i)))),
      ...(await Promise.all(entries.map((e) => svc.byProposedEntry(e)))).flat(),
    ];
    const members = await Promise.all(found.filter((e) => e !== undefined).map((e) => svc.memberFor(e)));
    return sendJsonText(reply, 200, `[${members.map((m) => `{${m}}`).join(',')}]`);
  });

  app.post('/api/v1/index/retrieve', async (req, reply) => {
    const body = asObject(req.body, 'request body');
    const keys: string[] = [];
    if (body.hash !== undefined) keys.push(hashKey(body.hash));
    for (const field of ['email', 'subject'] as const) {
      const v = body[field];
      if (v === undefined) continue;
      if (typeof v !== 'string' || v.length === 0 || v.length > 1024)
        throw new SigilError('INVALID_INPUT', `${field} must be a string of 1–1024 characters`);
      keys.push(v.toLowerCase());
    }
    if (body.publicKey !== undefined) keys.push(publicKeyKey(body.publicKey));
    if (keys.length === 0)
      throw new SigilError('INVALID_INPUT', 'name at least one of hash, email, subject or publicKey');
    const operator = body.operator ?? 'or';
    if (operator !== 'and' && operator !== 'or')
      throw new SigilError('INVALID_INPUT', 'operator must be "and" or "or"');
    const sets = await Promise.all(keys.map((k) => svc.idsForIndexKey(k)));
    let result: Set<string>;
    if (operator === 'or') result = new Set(sets.flatMap((s) => [...s]));
    else result = sets.reduce((acc, s) => new Set([...acc].filter((x) => s.has(x))));
    return reply.send([...result]);
  });
}

const HASH_LENGTHS: Record<number, string> = { 40: 'sha1', 64: 'sha256', 96: 'sha384', 128: 'sha512' };

/** `sha256:<hex>` (or bare hex, algorithm from its length) → the lowercase index key. */
export function hashKey(v: unknown): string {
  if (typeof v !== 'string') throw new SigilError('INVALID_INPUT', 'hash must be a string');
  const m = /^(?:(sha1|sha256|sha384|sha512):)?([0-9a-fA-F]+)$/.exec(v);
  const alg = m?.[1] ?? HASH_LENGTHS[m?.[2]?.length ?? 0];
  if (!m || !alg || HASH_LENGTHS[m[2]!.length] !== alg) {
    throw new SigilError(
      'INVALID_INPUT',
      'hash must be <sha1|sha256|sha384|sha512>:<hex> with the matching length',
    );
  }
  return `${alg}:${m[2]!.toLowerCase()}`;
}

/** `{format: 'x509', content: b64}` → the hex SHA-256 of the key's canonical PEM (hashedrekord's key index). */
function publicKeyKey(v: unknown): string {
  const pk = asObject(v, 'publicKey');
  if (pk.format !== 'x509')
    throw new SigilError('INVALID_INPUT', 'publicKey.format must be x509 (the only format this log indexes)');
  if (typeof pk.content !== 'string')
    throw new SigilError('INVALID_INPUT', 'publicKey.content must be b64 of a PEM key or certificate');
  fromBase64(pk.content, 'publicKey.content');
  return parseVerifierMaterial(pk.content, 'publicKey.content').pemSha256;
}
