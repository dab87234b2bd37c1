import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
  type ClientRequest,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { SigilError } from '../errors/index.js';

/**
 * HTTP for the registry client on node:http(s) with keep-alive agents: one connection per
 * registry is reused across requests (no per-request fetch/stream machinery), every body read
 * is bounded, and each request has one deadline covering the answer and its body.
 */
export interface RegistryResponse {
  status: number;
  ok: boolean;
  headers: { get(name: string): string | null };
  /** The whole body; TOO_LARGE as soon as it passes `max` (or when Content-Length says so). */
  read(max: number, what: string): Promise<Buffer>;
  /** Lets the connection be reused without reading a small body (a large one closes it). */
  discard(): Promise<void>;
}

export interface TransportRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: Buffer;
  timeoutMs: number;
}

/** Bodies up to this size are drained to keep the connection; larger ones close it. */
const DRAIN_LIMIT = 64 * 1024;
/** Idle keep-alive connections per registry origin kept open. */
const MAX_FREE_SOCKETS = 32;

function timeoutError(ms: number): Error {
  return Object.assign(new Error(`timed out after ${ms} ms`), { name: 'TimeoutError' });
}

class NodeResponse implements RegistryResponse {
  readonly status: number;
  readonly ok: boolean;
  readonly headers: { get(name: string): string | null };
  private done = false;

  constructor(
    private readonly res: IncomingMessage,
    private readonly head: boolean,
    private readonly finish: () => void,
    private readonly timedOut: () => boolean,
  ) {
    this.status = res.statusCode ?? 0;
    this.ok = this.status >= 200 && this.status < 300;
    const h = res.headers;
    this.headers = {
      get: (name) => {
        const v = h[name.toLowerCase()];
        return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
      },
    };
  }

  read(max: number, what: string): Promise<Buffer> {
    if (this.done) return Promise.resolve(Buffer.alloc(0));
    const res = this.res;
    const declared = res.headers['content-length'];
    if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > max) {
      this.close(true);
      return Promise.reject(
        new SigilError('TOO_LARGE', `${what} is ${declared} bytes, more than the limit of ${max}`),
      );
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let total = 0;
      let settled = false;
      const settle = (e: SigilError | undefined, destroy: boolean): void => {
        if (settled) return;
        settled = true;
        if (e) reject(e);
        else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
        this.close(destroy);
      };
      const fail = (e: Error): void => {
        const why = this.timedOut() || e.name === 'TimeoutError' ? 'timed out' : e.message;
        settle(new SigilError('REGISTRY_ERROR', `reading ${what} failed: ${why}`, { cause: e }), true);
      };
      res.on('data', (c: Buffer) => {
        total += c.length;
        if (total > max) {
          res.removeAllListeners('data');
          settle(new SigilError('TOO_LARGE', `${what} is larger than the limit of ${max} bytes`), true);
          return;
        }
        chunks.push(c);
      });
      res.once('end', () => settle(undefined, false));
      res.once('error', fail);
      res.once('aborted', () => fail(new Error('connection closed')));
    });
  }

  discard(): Promise<void> {
    if (this.done) return Promise.resolve();
    const res = this.res;
    const declared = Number(res.headers['content-length'] ?? NaN);
    if (!this.head && !(declared <= DRAIN_LIMIT)) {
      this.close(true);
      return Promise.resolve();
    }
    // Even an empty body must be consumed before the agent can reuse the connection.
    return new Promise((resolve) => {
      const settle = (): void => {
        this.close(false);
        resolve();
      };
      if (res.readableEnded) return settle();
      res.once('end', settle);
      res.once('error', settle);
      res.once('aborted', settle);
      res.resume();
    });
  }

  private close(destroy: boolean): void {
    if (this.done) return;
    this.done = true;
    this.finish();
    if (destroy) this.res.destroy();
  }
}

/** Errors worth one retry on a fresh connection: the server closed a reused idle one. */
const STALE_SOCKET = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

export class KeepAliveTransport {
  private readonly http = new HttpAgent({
    keepAlive: true,
    maxFreeSockets: MAX_FREE_SOCKETS,
    scheduling: 'lifo',
  });
  private readonly https = new HttpsAgent({
    keepAlive: true,
    maxFreeSockets: MAX_FREE_SOCKETS,
    scheduling: 'lifo',
  });

  async request(r: TransportRequest): Promise<RegistryResponse> {
    try {
      return await this.once(r);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const idempotent = r.method === 'GET' || r.method === 'HEAD';
      if (idempotent && (e as { reusedSocket?: boolean }).reusedSocket && code && STALE_SOCKET.has(code))
        return this.once(r);
      throw e;
    }
  }

  private once(r: TransportRequest): Promise<RegistryResponse> {
    const secure = r.url.protocol === 'https:';
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { ...r.headers };
      if (r.body !== undefined) headers['content-length'] = r.body.length;
      const req: ClientRequest = (secure ? httpsRequest : httpRequest)(r.url, {
        method: r.method,
        headers,
        agent: secure ? this.https : this.http,
      });
      // One deadline for the answer and its body; cleared once the body is read or discarded.
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        req.destroy(timeoutError(r.timeoutMs));
      }, r.timeoutMs);
      timer.unref();
      req.once('error', (e) => {
        clearTimeout(timer);
        reject(Object.assign(e, { reusedSocket: req.reusedSocket }));
      });
      req.once('response', (res) => {
        resolve(
          new NodeResponse(
            res,
            r.method === 'HEAD',
            () => clearTimeout(timer),
            () => timedOut,
          ),
        );
      });
      req.end(r.body);
    });
  }

  /** Closes the idle connections (a client with requests still running keeps those). */
  close(): void {
    this.http.destroy();
    this.https.destroy();
  }
}
