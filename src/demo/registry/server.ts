import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createApp, listen } from '../../server/index.js';
import { isSigilError } from '../../errors/index.js';
import { computeDigest, MAX_MANIFEST_BYTES, parseManifest } from '../../oci/manifest.js';
import { MEDIA_TYPES, isIndex, type Descriptor } from '../../oci/media-types.js';
import { isValidRepository, isValidTag, parseDigest } from '../../oci/reference.js';
import { FileKeyValue, MemoryKeyValue, RegistryStore } from './store.js';
import { routeOf } from './routes.js';

export const DEFAULT_REGISTRY_PORT = 5000;
export const DEFAULT_MAX_BLOB_BYTES = 256 * 1024 * 1024;
const MAX_UPLOAD_SESSIONS = 256;
const UPLOAD_TTL_MS = 60 * 60 * 1000;
const MAX_TAGS_PAGE = 10_000;

export interface RegistryServerConfig {
  /** Files under this directory; in memory when absent. */
  dataDir?: string;
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** When set, every /v2/ request needs these credentials (HTTP basic). */
  auth?: { username: string; password: string };
  /** Largest blob accepted (default 256 MiB). */
  maxBlobBytes?: number;
  logLevel?: string;
}

export interface RegistryServer {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  /** `127.0.0.1:PORT`: the registry part of image references. */
  host: string;
  store: RegistryStore;
  app: FastifyInstance;
  close(): Promise<void>;
}

interface Upload {
  repo: string;
  chunks: Buffer[];
  size: number;
  expires: number;
}

class RegistryHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const err = (status: number, code: string, message: string): RegistryHttpError =>
  new RegistryHttpError(status, code, message);

function validDigest(d: string): boolean {
  try {
    parseDigest(d);
    return true;
  } catch {
    return false;
  }
}

function bodyOf(req: FastifyRequest): Buffer {
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}

/**
 * An embedded OCI distribution registry: push (monolithic and chunked uploads, cross-repo
 * mount), pull (manifests by tag or digest, blobs), HEAD, tag listing and the OCI 1.1
 * referrers API computed from the `subject` of pushed manifests. Every upload and manifest
 * is checked against its digest. Errors use the distribution spec's `{errors:[…]}` shape.
 */
export async function createRegistryServer(config: RegistryServerConfig): Promise<RegistryServer> {
  const maxBlob = config.maxBlobBytes ?? DEFAULT_MAX_BLOB_BYTES;
  const store = new RegistryStore(config.dataDir ? new FileKeyValue(config.dataDir) : new MemoryKeyValue());
  const uploads = new Map<string, Upload>();
  const app = createApp({ bodyLimit: maxBlob, logLevel: config.logLevel ?? 'warn' });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxBlob }, (_req, body, done) =>
    done(null, body),
  );

  const expectedAuth = config.auth
    ? Buffer.from(
        `Basic ${Buffer.from(`${config.auth.username}:${config.auth.password}`).toString('base64')}`,
      )
    : undefined;

  const handler = async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    reply.header('docker-distribution-api-version', 'registry/2.0');
    try {
      if (expectedAuth) {
        const given = Buffer.from(req.headers.authorization ?? '');
        if (given.length !== expectedAuth.length || !timingSafeEqual(given, expectedAuth)) {
          reply.header('www-authenticate', 'Basic realm="sigil-registry"');
          throw err(401, 'UNAUTHORIZED', 'authentication required');
        }
      }
      const path = req.url.split('?')[0]!.replace(/^\/v2\/?/, '');
      if (path === '') return reply.header('content-type', 'application/json').send(Buffer.from('{}'));
      const route = routeOf(path);
      if (!route) throw err(404, 'NOT_FOUND', 'unknown endpoint');
      if (!isValidRepository(route.repo))
        throw err(400, 'NAME_INVALID', `invalid repository name ${JSON.stringify(route.repo.slice(0, 200))}`);
      const query = req.query as Record<string, string | undefined>;
      switch (route.kind) {
        case 'manifest':
          return manifestRoute(req, reply, route.repo, route.ref);
        case 'blob':
          return blobRoute(req, reply, route.repo, route.digest);
        case 'uploads':
          return startUpload(req, reply, route.repo, query);
        case 'upload':
          return uploadRoute(req, reply, route.repo, route.id, query);
        case 'tags':
          return tagsRoute(req, reply, route.repo, query);
        case 'referrers':
          return referrersRoute(req, reply, route.repo, route.digest, query);
      }
    } catch (e) {
      if (e instanceof RegistryHttpError) {
        return reply.status(e.status).send({ errors: [{ code: e.code, message: e.message, detail: null }] });
      }
      throw e;
    }
  };

  function manifestRoute(req: FastifyRequest, reply: FastifyReply, repo: string, ref: string): FastifyReply {
    const byDigest = ref.includes(':');
    if (byDigest ? !validDigest(ref) : !isValidTag(ref))
      throw err(400, byDigest ? 'DIGEST_INVALID' : 'TAG_INVALID', `invalid reference ${ref}`);
    if (req.method === 'GET' || req.method === 'HEAD') {
      const digest = byDigest ? ref : store.resolveTag(repo, ref);
      const m = digest ? store.getManifest(repo, digest) : undefined;
      if (!digest || !m) throw err(404, 'MANIFEST_UNKNOWN', `manifest unknown: ${repo}:${ref}`);
      reply
        .header('content-type', m.mediaType)
        .header('docker-content-digest', digest)
        .header('content-length', m.bytes.length);
      return req.method === 'HEAD' ? reply.send() : reply.send(m.bytes);
    }
    if (req.method === 'PUT') return putManifest(req, reply, repo, ref, byDigest);
    throw err(405, 'UNSUPPORTED', `${req.method} is not supported on manifests`);
  }

  function putManifest(
    req: FastifyRequest,
    reply: FastifyReply,
    repo: string,
    ref: string,
    byDigest: boolean,
  ): FastifyReply {
    const bytes = bodyOf(req);
    if (bytes.length > MAX_MANIFEST_BYTES)
      throw err(413, 'SIZE_INVALID', `manifest larger than ${MAX_MANIFEST_BYTES} bytes`);
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
    let parsed: ReturnType<typeof parseManifest>;
    try {
      parsed = parseManifest(bytes, contentType || undefined);
    } catch (e) {
      throw err(400, 'MANIFEST_INVALID', isSigilError(e) ? e.message : 'invalid manifest');
    }
    const docType = (parsed.manifest as { mediaType?: string }).mediaType;
    if (docType && contentType && docType !== contentType) {
      throw err(
        400,
        'MANIFEST_INVALID',
        `Content-Type ${contentType} does not match the manifest's mediaType ${docType}`,
      );
    }
    const digest = byDigest ? ref : computeDigest(bytes);
    if (byDigest && computeDigest(bytes, parseDigest(ref).algorithm) !== ref)
      throw err(400, 'DIGEST_INVALID', 'manifest bytes do not match the digest in the URL');
    const m = parsed.manifest;
    if (isIndex(m)) {
      for (const d of m.manifests) {
        if (!store.getManifest(repo, d.digest))
          throw err(400, 'MANIFEST_BLOB_UNKNOWN', `index references unknown manifest ${d.digest}`);
      }
    } else {
      for (const d of [m.config, ...m.layers]) {
        if (d.urls && d.urls.length > 0) continue;
        const size = store.blobSize(repo, d.digest);
        if (size === undefined)
          throw err(400, 'MANIFEST_BLOB_UNKNOWN', `manifest references unknown blob ${d.digest}`);
        if (size !== d.size)
          throw err(
            400,
            'MANIFEST_INVALID',
            `blob ${d.digest} is ${size} bytes, the manifest says ${d.size}`,
          );
      }
    }
    let referrer: { subject: string; descriptor: Descriptor } | undefined;
    if (m.subject) {
      const artifactType = m.artifactType ?? (isIndex(m) ? undefined : m.config.mediaType);
      referrer = {
        subject: m.subject.digest,
        descriptor: {
          mediaType: parsed.mediaType,
          digest,
          size: bytes.length,
          ...(artifactType ? { artifactType } : {}),
          ...(m.annotations ? { annotations: m.annotations } : {}),
        },
      };
      reply.header('oci-subject', m.subject.digest);
    }
    store.putManifest(repo, digest, { bytes, mediaType: parsed.mediaType }, referrer);
    if (!byDigest) store.setTag(repo, ref, digest);
    return reply
      .status(201)
      .header('location', `/v2/${repo}/manifests/${digest}`)
      .header('docker-content-digest', digest)
      .send();
  }

  function blobRoute(req: FastifyRequest, reply: FastifyReply, repo: string, digest: string): FastifyReply {
    if (!validDigest(digest)) throw err(400, 'DIGEST_INVALID', `invalid digest ${digest}`);
    if (req.method !== 'GET' && req.method !== 'HEAD')
      throw err(405, 'UNSUPPORTED', `${req.method} is not supported on blobs`);
    const size = store.blobSize(repo, digest);
    if (size === undefined) throw err(404, 'BLOB_UNKNOWN', `blob unknown: ${digest}`);
    reply
      .header('content-type', 'application/octet-stream')
      .header('docker-content-digest', digest)
      .header('content-length', size);
    if (req.method === 'HEAD') return reply.send();
    return reply.send(store.getBlob(repo, digest));
  }

  function sweepUploads(): void {
    const now = Date.now();
    for (const [id, u] of uploads) if (u.expires < now) uploads.delete(id);
  }

  function finishBlob(reply: FastifyReply, repo: string, digest: string, bytes: Buffer): FastifyReply {
    if (!validDigest(digest)) throw err(400, 'DIGEST_INVALID', `invalid digest ${digest}`);
    if (computeDigest(bytes, parseDigest(digest).algorithm) !== digest)
      throw err(400, 'DIGEST_INVALID', 'uploaded content does not match the digest');
    store.putBlob(repo, digest, bytes);
    return reply
      .status(201)
      .header('location', `/v2/${repo}/blobs/${digest}`)
      .header('docker-content-digest', digest)
      .send();
  }

  function uploadHeaders(reply: FastifyReply, repo: string, id: string, size: number): FastifyReply {
    return reply
      .header('location', `/v2/${repo}/blobs/uploads/${id}`)
      .header('docker-upload-uuid', id)
      .header('range', `0-${Math.max(size - 1, 0)}`);
  }

  function startUpload(
    req: FastifyRequest,
    reply: FastifyReply,
    repo: string,
    query: Record<string, string | undefined>,
  ): FastifyReply {
    if (req.method !== 'POST') throw err(405, 'UNSUPPORTED', `${req.method} is not supported on uploads`);
    if (query.mount && query.from && validDigest(query.mount) && isValidRepository(query.from)) {
      if (store.blobSize(query.from, query.mount) !== undefined) {
        store.linkBlob(repo, query.mount);
        return reply
          .status(201)
          .header('location', `/v2/${repo}/blobs/${query.mount}`)
          .header('docker-content-digest', query.mount)
          .send();
      }
    }
    if (query.digest) return finishBlob(reply, repo, query.digest, bodyOf(req));
    sweepUploads();
    if (uploads.size >= MAX_UPLOAD_SESSIONS)
      throw err(429, 'TOOMANYREQUESTS', 'too many uploads in progress');
    const id = randomUUID();
    uploads.set(id, { repo, chunks: [], size: 0, expires: Date.now() + UPLOAD_TTL_MS });
    return uploadHeaders(reply.status(202), repo, id, 0).send();
  }

  function appendChunk(u: Upload, req: FastifyRequest, chunk: Buffer): void {
    const range = req.headers['content-range'];
    if (typeof range === 'string' && chunk.length > 0) {
      const m = /^(?:bytes )?(\d+)-(\d+)$/.exec(range.trim());
      if (!m || Number(m[1]) !== u.size)
        throw err(416, 'BLOB_UPLOAD_INVALID', `Content-Range ${range} does not continue at ${u.size}`);
    }
    if (u.size + chunk.length > maxBlob) throw err(413, 'SIZE_INVALID', `blob larger than ${maxBlob} bytes`);
    u.chunks.push(chunk);
    u.size += chunk.length;
  }

  function uploadRoute(
    req: FastifyRequest,
    reply: FastifyReply,
    repo: string,
    id: string,
    query: Record<string, string | undefined>,
  ): FastifyReply {
    const u = uploads.get(id);
    if (!u || u.repo !== repo) throw err(404, 'BLOB_UPLOAD_UNKNOWN', `upload unknown: ${id}`);
    switch (req.method) {
      case 'GET':
        return uploadHeaders(reply.status(204), repo, id, u.size).send();
      case 'PATCH':
        appendChunk(u, req, bodyOf(req));
        return uploadHeaders(reply.status(202), repo, id, u.size).send();
      case 'PUT': {
        if (!query.digest) throw err(400, 'DIGEST_INVALID', 'the digest query parameter is required');
        appendChunk(u, req, bodyOf(req));
        uploads.delete(id);
        return finishBlob(reply, repo, query.digest, Buffer.concat(u.chunks, u.size));
      }
      case 'DELETE':
        uploads.delete(id);
        return reply.status(204).send();
      default:
        throw err(405, 'UNSUPPORTED', `${req.method} is not supported on uploads`);
    }
  }

  function tagsRoute(
    req: FastifyRequest,
    reply: FastifyReply,
    repo: string,
    query: Record<string, string | undefined>,
  ): FastifyReply {
    if (req.method !== 'GET') throw err(405, 'UNSUPPORTED', `${req.method} is not supported on tags`);
    if (!store.hasRepository(repo))
      throw err(404, 'NAME_UNKNOWN', `repository name not known to registry: ${repo}`);
    let tags = store.tags(repo);
    if (query.last) tags = tags.filter((t) => t > query.last!);
    const n =
      query.n !== undefined && /^\d+$/.test(query.n)
        ? Math.min(Number(query.n), MAX_TAGS_PAGE)
        : MAX_TAGS_PAGE;
    const page = tags.slice(0, n);
    if (tags.length > n && page.length > 0) {
      reply.header(
        'link',
        `</v2/${repo}/tags/list?n=${n}&last=${encodeURIComponent(page[page.length - 1]!)}>; rel="next"`,
      );
    }
    return reply
      .header('content-type', 'application/json')
      .send(Buffer.from(JSON.stringify({ name: repo, tags: page })));
  }

  function referrersRoute(
    req: FastifyRequest,
    reply: FastifyReply,
    repo: string,
    digest: string,
    query: Record<string, string | undefined>,
  ): FastifyReply {
    if (req.method !== 'GET' && req.method !== 'HEAD')
      throw err(405, 'UNSUPPORTED', `${req.method} is not supported on referrers`);
    if (!validDigest(digest)) throw err(400, 'DIGEST_INVALID', `invalid digest ${digest}`);
    let manifests = store.referrers(repo, digest);
    if (query.artifactType) {
      manifests = manifests.filter((d) => d.artifactType === query.artifactType);
      reply.header('oci-filters-applied', 'artifactType');
    }
    const body = JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests });
    return reply.header('content-type', MEDIA_TYPES.ociIndex).send(Buffer.from(body));
  }

  const methods = ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE'] as const;
  app.route({ method: [...methods], url: '/v2', handler });
  app.route({ method: [...methods], url: '/v2/*', handler });

  const host = config.host ?? '127.0.0.1';
  const url = await listen(app, config.port, host);
  return { url, host: url.replace(/^https?:\/\//, ''), store, app, close: () => app.close() };
}
