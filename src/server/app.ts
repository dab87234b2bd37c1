import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, Server as HttpsServer } from 'node:https';
import Fastify, { LogController, type FastifyInstance, type FastifyError } from 'fastify';
import { SigilError, httpStatusFor } from '../errors/index.js';
import { parseJsonBounded } from './json-depth.js';
import { InFlightLimit } from './raw-http.js';

export const DEFAULT_BODY_LIMIT = 4 * 1024 * 1024;

export interface AppOptions {
  /** Maximum request body in bytes (default 4 MiB). */
  bodyLimit?: number;
  /** pino level; 'silent' in tests. */
  logLevel?: string;
  /** HTTPS material; plain HTTP when absent. */
  https?: { cert: string | Buffer; key: string | Buffer };
  /** Concurrent in-flight requests before answering 503 + Retry-After. */
  maxInFlight?: number;
  /**
   * A hot route served on the plain node:http(s) request, before Fastify's pipeline: returns
   * true when it took the request (it answers it itself), false to hand it to Fastify. It
   * shares `inFlight` with the Fastify routes.
   */
  fastRoute?: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** The in-flight counter (made from maxInFlight when absent). */
  inFlight?: InFlightLimit;
}

/**
 * Shared Fastify set-up for every sigil server: bounded JSON bodies, one error mapping
 * (SigilError code → status, body `{code, message}`), no stack traces on the wire,
 * /healthz, and back-pressure.
 */
export function createApp(opts: AppOptions = {}): FastifyInstance {
  const app = Fastify({
    bodyLimit: opts.bodyLimit ?? DEFAULT_BODY_LIMIT,
    logger: {
      level: opts.logLevel ?? 'info',
      redact: ['req.headers.authorization', 'req.headers.cookie'],
    },
    logController: new LogController({ disableRequestLogging: true }),
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    ...(opts.https ? { https: opts.https } : {}),
    ...(opts.fastRoute ? { serverFactory: fastRouteServer(opts.fastRoute, opts.https) } : {}),
  }) as unknown as FastifyInstance;

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(['application/json', 'text/json'], { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, body === '' ? undefined : parseJsonBounded(body as string));
    } catch (e) {
      done(e as Error, undefined);
    }
  });
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  const inFlight = opts.inFlight ?? (opts.maxInFlight ? new InFlightLimit(opts.maxInFlight) : undefined);
  if (inFlight) {
    // Only requests that were counted in are counted out (a refused one is answered too).
    const counted = new WeakSet<object>();
    app.addHook('onRequest', async (req) => {
      if (!inFlight.enter()) throw InFlightLimit.pushback();
      counted.add(req.raw);
    });
    app.addHook('onResponse', async (req) => {
      if (counted.delete(req.raw)) inFlight.leave();
    });
  }

  app.setErrorHandler((err: FastifyError | SigilError, req, reply) => {
    if (err instanceof SigilError) {
      if (err.headers) for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
      const status = httpStatusFor(err.code);
      if (status >= 500) req.log.warn({ code: err.code, msg: err.message }, 'request failed');
      return reply.status(status).send({ code: err.code, message: err.message });
    }
    const fe = err as FastifyError;
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.status(413).send({ code: 'TOO_LARGE', message: 'request body too large' });
    }
    if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return reply.status(415).send({ code: 'INVALID_INPUT', message: 'unsupported content type' });
    }
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
      return reply.status(fe.statusCode).send({ code: 'INVALID_INPUT', message: fe.message });
    }
    req.log.error({ err }, 'unhandled error');
    return reply.status(500).send({ code: 'INTERNAL', message: 'internal error' });
  });

  app.setNotFoundHandler((req, reply) => {
    reply
      .status(404)
      .send({ code: 'NOT_FOUND', message: `no route for ${req.method} ${req.url.split('?')[0]}` });
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  return app;
}

const FASTIFY_KEEP_ALIVE_MS = 72_000;

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

function fastRouteServer(
  fast: (req: IncomingMessage, res: ServerResponse) => boolean,
  https: AppOptions['https'],
) {
  return (fastify: Handler) => {
    const handler: Handler = (req, res) => {
      if (!fast(req, res)) fastify(req, res);
    };
    const server = https ? createHttpsServer(https, handler) : createHttpServer(handler);
    // What Fastify sets on a server it makes itself (a factory-made one keeps Node's 5 s).
    server.keepAliveTimeout = FASTIFY_KEEP_ALIVE_MS;
    return server;
  };
}

/** Listens and returns the base URL (use port 0 in tests). */
export async function listen(app: FastifyInstance, port: number, host = '127.0.0.1'): Promise<string> {
  await app.listen({ port, host });
  const addr = app.server.address();
  const actual = typeof addr === 'object' && addr ? addr.port : port;
  const scheme = app.server instanceof HttpsServer ? 'https' : 'http';
  const h = host.includes(':') ? `[${host}]` : host;
  return `${scheme}://${h}:${actual}`;
}
