import { SigilError, type ErrorCode } from '../errors/index.js';
import { jsonNestsDeeperThan } from '../crypto/json-depth.js';

/** How one request to another service is bounded and how its failures read. */
export interface FetchOptions {
  timeoutMs: number;
  /** The answer's body is refused past this many bytes, while it streams in. */
  maxBytes: number;
  /** Method, headers and body; `signal` and `redirect` are set here. */
  init?: Omit<RequestInit, 'signal' | 'redirect'>;
  /** What failure messages call the other side (default: the URL), e.g. `the CA at http://…`. */
  what?: string;
  /** The code of an unreachable or timed-out service (default UPSTREAM_ERROR). */
  unreachable?: ErrorCode;
}

export interface FetchedBody {
  status: number;
  headers: Headers;
  bytes: Buffer;
  text: string;
}

export interface FetchedJson extends FetchedBody {
  /** The body as JSON; undefined when it is empty or not JSON (the status says what happened). */
  json: unknown;
}

/** Deeper than any answer of a Sigstore service nests. */
const MAX_ANSWER_DEPTH = 64;

/**
 * One bounded HTTP exchange: a timeout over the whole exchange, no redirects (a service that
 * moves is a configuration error, and credentials must not follow it), and a body read while
 * it streams up to `maxBytes`. Every failure is a SigilError; the caller judges the status.
 */
export async function fetchBounded(url: string | URL, opts: FetchOptions): Promise<FetchedBody> {
  const what = opts.what ?? String(url);
  const signal = AbortSignal.timeout(opts.timeoutMs);
  let res: Response;
  try {
    res = await fetch(url, { ...opts.init, signal, redirect: 'error' });
  } catch (e) {
    throw new SigilError(
      opts.unreachable ?? 'UPSTREAM_ERROR',
      `cannot reach ${what}: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > opts.maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLarge(what, opts.maxBytes);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body?.getReader();
  try {
    for (;;) {
      if (!reader) break;
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > opts.maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge(what, opts.maxBytes);
      }
      chunks.push(value);
    }
  } catch (e) {
    if (e instanceof SigilError) throw e;
    throw new SigilError(
      opts.unreachable ?? 'UPSTREAM_ERROR',
      `reading the answer of ${what}: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  const bytes = Buffer.concat(chunks);
  return { status: res.status, headers: res.headers, bytes, text: bytes.toString('utf8') };
}

/** `fetchBounded` whose answer is read as JSON (depth-bounded); `json` is undefined if it is not JSON. */
export async function fetchJson(url: string | URL, opts: FetchOptions): Promise<FetchedJson> {
  const body = await fetchBounded(url, opts);
  return { ...body, json: parseAnswer(body.text) };
}

/** JSON text of an answer, or undefined (empty, not JSON, or nested past the bound). */
export function parseAnswer(text: string): unknown {
  if (text === '' || jsonNestsDeeperThan(text, MAX_ANSWER_DEPTH)) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function tooLarge(what: string, max: number): SigilError {
  return new SigilError('UPSTREAM_ERROR', `${what} answered more than ${max} bytes`);
}
