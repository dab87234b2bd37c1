import { ERROR_CODES, SigilError, type ErrorCode } from '../errors/index.js';
import { FieldReader } from '../bundle/protojson.js';
import { parseTlogEntry, type TransparencyLogEntry } from '../bundle/index.js';
import { logBaseUrl } from '../rekor/client.js';
import { V2_CREATE_PATH } from './api.js';

/** sigstore-js DEFAULT_REKORV2_TIMEOUT: rekor-tiles answers only after the next checkpoint. */
export const DEFAULT_V2_CLIENT_TIMEOUT_MS = 20_000;
const MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * Writes entries to a Rekor v2 log (sigil's or rekor-tiles): POST /api/v2/log/entries, answered
 * with a TransparencyLogEntry. Failures are SigilErrors: UNAVAILABLE (unreachable or 503),
 * DUPLICATE_ENTRY (409, `headers['x-log-index']`), the server's 4xx code when it is one of ours,
 * else UPSTREAM_ERROR.
 */
export class RekorV2Client {
  readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(baseUrl: string, opts: { timeoutMs?: number } = {}) {
    this.baseUrl = logBaseUrl(baseUrl);
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_V2_CLIENT_TIMEOUT_MS;
  }

  async createEntry(request: unknown): Promise<TransparencyLogEntry> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${V2_CREATE_PATH}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(request),
        signal: AbortSignal.timeout(this.timeoutMs),
        redirect: 'error',
      });
    } catch (e) {
      throw new SigilError(
        'UNAVAILABLE',
        `cannot reach the Rekor v2 log at ${this.baseUrl}: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
    if (Number(res.headers.get('content-length') ?? '0') > MAX_RESPONSE_BYTES)
      throw new SigilError('UPSTREAM_ERROR', 'Rekor v2 response too large');
    const buf = Buffer.from(await res.arrayBuffer());
    if (buf.length > MAX_RESPONSE_BYTES)
      throw new SigilError('UPSTREAM_ERROR', 'Rekor v2 response too large');
    let json: unknown;
    try {
      json = JSON.parse(buf.toString('utf8'));
    } catch {
      json = undefined;
    }
    if (res.status === 201 || res.status === 200)
      return parseTlogEntry(new FieldReader('UPSTREAM_ERROR', 'Rekor v2 entry'), json);
    throw failure(this.baseUrl, res, json);
  }
}

function failure(baseUrl: string, res: Response, json: unknown): SigilError {
  const body = (typeof json === 'object' && json !== null ? json : {}) as {
    code?: unknown;
    message?: unknown;
  };
  const message = typeof body.message === 'string' ? body.message.slice(0, 500) : `HTTP ${res.status}`;
  const what = `Rekor v2 log ${baseUrl} refused the entry: ${message}`;
  if (res.status === 409) {
    const index = res.headers.get('x-log-index');
    return new SigilError('DUPLICATE_ENTRY', what, index ? { headers: { 'x-log-index': index } } : undefined);
  }
  if (res.status === 503 || res.status === 429) return new SigilError('UNAVAILABLE', what);
  const code =
    typeof body.code === 'string' && body.code in ERROR_CODES ? (body.code as ErrorCode) : undefined;
  if (res.status >= 400 && res.status < 500 && code && ERROR_CODES[code] < 500)
    return new SigilError(code, what);
  return new SigilError('UPSTREAM_ERROR', what);
}
