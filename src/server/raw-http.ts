import type { IncomingMessage, ServerResponse } from 'node:http';
import { httpStatusFor, SigilError } from '../errors/index.js';

/**
 * Pieces for hot routes served on plain node:http(s), outside Fastify's request pipeline (see
 * AppOptions.fastRoute): a bounded body read, a one-write JSON answer, and the error mapping
 * every sigil server shares (SigilError code → status, body `{code, message}`).
 */

function tooLarge(limit: number): SigilError {
  return new SigilError('TOO_LARGE', `request body larger than ${limit} bytes`);
}

/** The body as UTF-8 text, refused (TOO_LARGE) from its Content-Length or as soon as it passes `limit`. */
export function readBody(req: IncomingMessage, limit: number, timeoutMs = BODY_TIMEOUT_MS): Promise<string> {
  return readBodyBytes(req, limit, timeoutMs).then((b) => b.toString('utf8'));
}

/**
 * One write: status, JSON content type and length, `headers`; `close` ends the connection (a body
 * left unread). `body` is the JSON text or its UTF-8 bytes.
 */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: string | Buffer,
  headers?: Record<string, string>,
  close = false,
): void {
  if (res.headersSent || res.destroyed) return;
  // Encoded once: Buffer.byteLength would flatten the (often concatenated) string, then end() encode it again.
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': bytes.length,
    ...headers,
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(bytes);
}

/**
 * Answers an error as the Fastify servers do: a SigilError with its status, headers and
 * `{code, message}`; anything else a 500 `INTERNAL` without details (`onInternal` sees it).
 */
export function sendError(res: ServerResponse, e: unknown, onInternal?: (e: unknown) => void): void {
  if (!(e instanceof SigilError)) {
    onInternal?.(e);
    sendJson(res, 500, '{"code":"INTERNAL","message":"internal error"}');
    return;
  }
  const status = httpStatusFor(e.code);
  if (status >= 500) onInternal?.(e);
  // A body refused for its size is not drained: the connection ends with the answer.
  sendJson(
    res,
    status,
    JSON.stringify({ code: e.code, message: e.message }),
    e.headers,
    e.code === 'TOO_LARGE',
  );
}

/** Requests in flight, shared by the Fastify hooks and the fast routes of one server. */
export class InFlightLimit {
  private n = 0;
  constructor(readonly max: number) {}

  /** False (nothing counted) when the server is at capacity. */
  enter(): boolean {
    if (this.n >= this.max) return false;
    this.n++;
    return true;
  }

  leave(): void {
    this.n--;
  }

  static pushback(): SigilError {
    return new SigilError('PUSHBACK', 'server is at capacity, retry shortly', {
      headers: { 'retry-after': '1' },
    });
  }
}

/** How long a request body may take to arrive (sigstore's timestamp-authority reads within 10 s). */
export const BODY_TIMEOUT_MS = 10_000;

/**
 * The body as bytes, refused (TOO_LARGE) from its Content-Length or as soon as it passes `limit`,
 * and refused (INVALID_INPUT, connection closed) when it has not all arrived within `timeoutMs`:
 * a trickled body must not hold its in-flight slot until Node's 300 s request timeout.
 */
export function readBodyBytes(
  req: IncomingMessage,
  limit: number,
  timeoutMs = BODY_TIMEOUT_MS,
): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const timer = setTimeout(() => {
      req.off('data', onData);
      reject(
        new SigilError('INVALID_INPUT', `request body not received within ${timeoutMs} ms`, {
          headers: { connection: 'close' },
        }),
      );
    }, timeoutMs);
    const onData = (c: Buffer): void => {
      total += c.length;
      if (total > limit) {
        clearTimeout(timer);
        req.off('data', onData);
        reject(tooLarge(limit));
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.once('end', () => {
      clearTimeout(timer);
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
    });
    req.once('error', (e) => {
      clearTimeout(timer);
      reject(new SigilError('INVALID_INPUT', `request body could not be read: ${e.message}`));
    });
  });
}

/**
 * A `POST path` route on the plain node:http request (AppOptions.fastRoute): false for any other
 * request; 503 + Retry-After past `inFlight`; a thrown SigilError answered as its 4xx/5xx JSON,
 * anything else as a bare 500 (seen by `onInternal`).
 */
export function postRoute(
  path: string,
  o: { inFlight?: InFlightLimit | undefined; onInternal?: ((e: unknown) => void) | undefined },
  answer: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const query = `${path}?`;
  return (req, res) => {
    if (req.method !== 'POST' || (req.url !== path && !req.url?.startsWith(query))) return false;
    if (o.inFlight && !o.inFlight.enter()) {
      sendError(res, InFlightLimit.pushback());
      return true;
    }
    answer(req, res)
      .catch((e: unknown) => sendError(res, e, o.onInternal))
      .finally(() => o.inFlight?.leave());
    return true;
  };
}
