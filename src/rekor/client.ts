import { ERROR_CODES, SigilError, type ErrorCode } from '../errors/index.js';
import { fetchBounded, parseAnswer } from '../http/index.js';
import type { IdentifiedLogEntry, LogEntryJson } from './log-entry.js';

export const DEFAULT_LOG_URL = 'http://127.0.0.1:3000';
export const DEFAULT_CLIENT_TIMEOUT_MS = 30_000;
/** Largest response body the client reads. */
export const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

export interface LogInfo {
  rootHash: string;
  treeSize: number;
  signedTreeHead: string;
  treeID: string;
  /** Frozen shards, oldest first (absent on a log that never rotated). */
  inactiveShards?: InactiveShard[];
}

export interface InactiveShard {
  rootHash: string;
  treeSize: number;
  signedTreeHead: string;
  treeID: string;
}

const MAX_INACTIVE_SHARDS = 1024;

function isShardInfo(j: Partial<InactiveShard> | null): j is InactiveShard {
  return (
    j !== null &&
    typeof j.rootHash === 'string' &&
    Number.isSafeInteger(j.treeSize) &&
    typeof j.signedTreeHead === 'string' &&
    typeof j.treeID === 'string'
  );
}

export interface ConsistencyProof {
  rootHash: string;
  hashes: string[];
}

export interface IndexQuery {
  hash?: string;
  email?: string;
  subject?: string;
  publicKey?: { format: 'x509'; content: string };
  operator?: 'and' | 'or';
}

export interface RetrieveQuery {
  entryUUIDs?: string[];
  logIndexes?: number[];
  entries?: unknown[];
}

/** A log's base URL, checked (http or https) and without trailing slashes; INVALID_INPUT else. */
export function logBaseUrl(baseUrl: string): string {
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch {
    throw new SigilError('INVALID_INPUT', `log URL ${JSON.stringify(baseUrl)} is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new SigilError('INVALID_INPUT', 'log URL must be http(s)');
  return baseUrl.replace(/\/+$/, '');
}

/**
 * HTTP client for a Rekor v1 log (this one or the real Rekor). Responses are shape-checked;
 * failures are SigilErrors: UNAVAILABLE (unreachable), DUPLICATE_ENTRY (409, `headers.location`
 * names the existing entry), the server's 4xx code when it is one of ours, else UPSTREAM_ERROR.
 */
export class RekorClient {
  readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(baseUrl: string = DEFAULT_LOG_URL, opts: { timeoutMs?: number } = {}) {
    this.baseUrl = logBaseUrl(baseUrl);
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS;
  }

  /** POST /api/v1/log/entries: the created entry (201). */
  async createEntry(proposed: unknown): Promise<IdentifiedLogEntry> {
    const res = await this.request('POST', '/api/v1/log/entries', proposed);
    if (res.status !== 201) throw this.failure(res);
    const entries = parseEntryMap(res.json);
    if (entries.length !== 1)
      throw new SigilError('UPSTREAM_ERROR', 'log answered create with other than one entry');
    const etag = res.headers.get('etag');
    if (etag && etag.replace(/"/g, '') !== entries[0]!.uuid)
      throw new SigilError('UPSTREAM_ERROR', 'log ETag differs from the entry ID');
    return entries[0]!;
  }

  async getEntryByIndex(logIndex: number): Promise<IdentifiedLogEntry | undefined> {
    if (!Number.isSafeInteger(logIndex) || logIndex < 0)
      throw new SigilError('INVALID_INPUT', 'log index must be a non-negative integer');
    return this.getOne(`/api/v1/log/entries?logIndex=${logIndex}`);
  }

  async getEntryByUuid(uuid: string): Promise<IdentifiedLogEntry | undefined> {
    if (!/^(?:[0-9a-fA-F]{64}|[0-9a-fA-F]{80})$/.test(uuid))
      throw new SigilError('INVALID_INPUT', 'entry UUID must be 64 or 80 hex characters');
    return this.getOne(`/api/v1/log/entries/${uuid}`);
  }

  async retrieveEntries(query: RetrieveQuery): Promise<IdentifiedLogEntry[]> {
    const res = await this.request('POST', '/api/v1/log/entries/retrieve', query);
    if (res.status !== 200) throw this.failure(res);
    if (!Array.isArray(res.json))
      throw new SigilError('UPSTREAM_ERROR', 'log answered retrieve with other than an array');
    return res.json.flatMap((m) => parseEntryMap(m));
  }

  /** POST /api/v1/index/retrieve: entry IDs. */
  async searchIndex(query: IndexQuery): Promise<string[]> {
    const res = await this.request('POST', '/api/v1/index/retrieve', query);
    if (res.status !== 200) throw this.failure(res);
    if (!Array.isArray(res.json) || !res.json.every((x) => typeof x === 'string')) {
      throw new SigilError('UPSTREAM_ERROR', 'log answered the index search with other than a list of IDs');
    }
    return res.json as string[];
  }

  async logInfo(): Promise<LogInfo> {
    const res = await this.request('GET', '/api/v1/log');
    if (res.status !== 200) throw this.failure(res);
    const j = res.json as Partial<LogInfo> | null;
    const shards: unknown = j?.inactiveShards;
    const shardsOk =
      shards === undefined ||
      shards === null ||
      (Array.isArray(shards) &&
        shards.length <= MAX_INACTIVE_SHARDS &&
        shards.every((x) => isShardInfo(x as Partial<InactiveShard> | null)));
    if (!isShardInfo(j) || !shardsOk) throw new SigilError('UPSTREAM_ERROR', 'log info is malformed');
    const info: LogInfo = {
      rootHash: j.rootHash,
      treeSize: j.treeSize,
      signedTreeHead: j.signedTreeHead,
      treeID: j.treeID,
    };
    if (Array.isArray(shards) && shards.length > 0) {
      info.inactiveShards = (shards as InactiveShard[]).map((x) => ({
        rootHash: x.rootHash,
        treeSize: x.treeSize,
        signedTreeHead: x.signedTreeHead,
        treeID: x.treeID,
      }));
    }
    return info;
  }

  /** The log's PEM public key. */
  async publicKey(): Promise<string> {
    const res = await this.request('GET', '/api/v1/log/publicKey');
    if (res.status !== 200) throw this.failure(res);
    if (!res.text.includes('-----BEGIN PUBLIC KEY-----'))
      throw new SigilError('UPSTREAM_ERROR', 'log public key is not PEM');
    return res.text;
  }

  /** GET /api/v1/log/proof, in the active tree or (with `treeId`) in a frozen shard. */
  async consistencyProof(firstSize: number, lastSize: number, treeId?: string): Promise<ConsistencyProof> {
    const tree = treeId === undefined ? '' : `&treeID=${encodeURIComponent(treeId)}`;
    const res = await this.request(
      'GET',
      `/api/v1/log/proof?firstSize=${firstSize}&lastSize=${lastSize}${tree}`,
    );
    if (res.status !== 200) throw this.failure(res);
    const j = res.json as Partial<ConsistencyProof> | null;
    if (
      !j ||
      typeof j.rootHash !== 'string' ||
      !Array.isArray(j.hashes) ||
      !j.hashes.every((h) => typeof h === 'string')
    ) {
      throw new SigilError('UPSTREAM_ERROR', 'consistency proof is malformed');
    }
    return { rootHash: j.rootHash, hashes: j.hashes };
  }

  private async getOne(path: string): Promise<IdentifiedLogEntry | undefined> {
    const res = await this.request('GET', path);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw this.failure(res);
    const entries = parseEntryMap(res.json);
    if (entries.length !== 1)
      throw new SigilError('UPSTREAM_ERROR', 'log answered with other than one entry');
    return entries[0];
  }

  private async request(method: string, path: string, body?: unknown): Promise<HttpResult> {
    const res = await fetchBounded(`${this.baseUrl}${path}`, {
      timeoutMs: this.timeoutMs,
      maxBytes: MAX_RESPONSE_BYTES,
      what: `the log at ${this.baseUrl}`,
      unreachable: 'UNAVAILABLE',
      init: {
        method,
        headers:
          body === undefined
            ? { accept: 'application/json' }
            : { 'content-type': 'application/json', accept: 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      },
    });
    let json: unknown;
    if ((res.headers.get('content-type') ?? '').includes('json') && res.text !== '') {
      json = parseAnswer(res.text);
      if (json === undefined)
        throw new SigilError('UPSTREAM_ERROR', `log answered ${res.status} with invalid JSON`);
    }
    return { status: res.status, headers: res.headers, text: res.text, json };
  }

  private failure(res: HttpResult): SigilError {
    const j = res.json as { code?: unknown; message?: unknown } | undefined;
    const message = typeof j?.message === 'string' ? j.message.slice(0, 500) : `HTTP ${res.status}`;
    if (res.status === 409) {
      const location = res.headers.get('location') ?? '';
      return new SigilError('DUPLICATE_ENTRY', message, { headers: { location } });
    }
    const code = typeof j?.code === 'string' && j.code in ERROR_CODES ? (j.code as ErrorCode) : undefined;
    if (code && res.status >= 400 && res.status < 500)
      return new SigilError(code, `log refused the request: ${message}`);
    return new SigilError('UPSTREAM_ERROR', `log answered ${res.status}: ${message}`);
  }
}

interface HttpResult {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

/** `{<id>: LogEntry, …}` → entries with their IDs, shape-checked. */
export function parseEntryMap(json: unknown): IdentifiedLogEntry[] {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new SigilError('UPSTREAM_ERROR', 'log entry map is not an object');
  return Object.entries(json as Record<string, unknown>).map(([uuid, v]) => {
    const e = v as Partial<LogEntryJson> | null;
    const p = e?.verification?.inclusionProof;
    const ok =
      /^(?:[0-9a-f]{64}|[0-9a-f]{80})$/.test(uuid) &&
      e !== null &&
      typeof e.body === 'string' &&
      Number.isSafeInteger(e.integratedTime) &&
      typeof e.logID === 'string' &&
      Number.isSafeInteger(e.logIndex) &&
      (e.verification === undefined ||
        (typeof e.verification.signedEntryTimestamp === 'string' &&
          (p === undefined ||
            (Number.isSafeInteger(p.logIndex) &&
              typeof p.rootHash === 'string' &&
              Number.isSafeInteger(p.treeSize) &&
              Array.isArray(p.hashes) &&
              typeof p.checkpoint === 'string'))));
    if (!ok) throw new SigilError('UPSTREAM_ERROR', 'log entry is malformed');
    return { uuid, ...(e as LogEntryJson) };
  });
}
