import type { FastifyInstance } from 'fastify';
import { createApp, DEFAULT_BODY_LIMIT } from '../server/index.js';
import { InFlightLimit } from '../server/raw-http.js';
import { createEntryRoute } from './create-route.js';
import { registerRekorRoutes } from './routes.js';
import type { RekorService } from './service.js';

/** Requests in flight before the server answers 503 + Retry-After. */
export const DEFAULT_MAX_IN_FLIGHT = 8192;

export interface RekorAppOptions {
  /** Base URL for Location headers (read per request: the listening URL is known only later). */
  baseUrl: () => string;
  bodyLimit?: number;
  logLevel?: string;
  maxInFlight?: number;
  tls?: { cert: string; key: string };
}

/**
 * The Rekor v1 API on a Fastify app, with the append route (the hot path) on the plain
 * node:http request; shared by the SQLite server and the PostgreSQL replicas.
 */
export function createRekorApp(svc: RekorService, o: RekorAppOptions): FastifyInstance {
  const bodyLimit = o.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const inFlight = new InFlightLimit(o.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT);
  const holder: { app?: FastifyInstance } = {};
  const fastRoute = createEntryRoute(svc, {
    baseUrl: o.baseUrl,
    bodyLimit,
    inFlight,
    onInternal: (e) => holder.app?.log.error({ err: e }, 'append failed'),
  });
  const app = createApp({
    bodyLimit,
    logLevel: o.logLevel ?? 'warn',
    inFlight,
    fastRoute,
    ...(o.tls ? { https: o.tls } : {}),
  });
  holder.app = app;
  registerRekorRoutes(app, svc);
  return app;
}
