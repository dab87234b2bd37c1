import type { IncomingMessage, ServerResponse } from 'node:http';
import { SigilError } from '../errors/index.js';
import { postRoute, readBody, sendJson, type InFlightLimit } from '../server/raw-http.js';
import type { RekorService } from './service.js';

export const CREATE_PATH = '/api/v1/log/entries';

export interface CreateRouteOptions {
  /** Base URL for Location headers (read per request: the listening URL is known only later). */
  baseUrl: () => string;
  bodyLimit: number;
  inFlight?: InFlightLimit;
  /** Sees unexpected faults (answered 500 without details). */
  onInternal?: (e: unknown) => void;
}

/**
 * `POST /api/v1/log/entries` on the plain node:http request (AppOptions.fastRoute): the append
 * path is the log's hot path, and Fastify's per-request pipeline (hooks, reply object, content
 * type parsing) cost more CPU than the rest of the main thread's share of an append. Same wire
 * contract as the other routes: 201 with ETag and Location, 409 with Location for a duplicate,
 * 4xx `{code, message}` for bad input, 503 + Retry-After at capacity.
 */
export function createEntryRoute(
  svc: RekorService,
  o: CreateRouteOptions,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const answer = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const text = await readBody(req, o.bodyLimit);
    if (text.length === 0) throw new SigilError('INVALID_JSON', 'request body is empty');
    try {
      const { uuid, map } = await svc.create(text);
      const location = `${o.baseUrl()}${CREATE_PATH}/${uuid}`;
      sendJson(res, 201, map, { etag: uuid, location });
    } catch (e) {
      const id =
        e instanceof SigilError && e.code === 'DUPLICATE_ENTRY' ? e.headers?.['x-sigil-entry-id'] : undefined;
      if (id === undefined) throw e;
      throw new SigilError('DUPLICATE_ENTRY', e instanceof Error ? e.message : 'duplicate entry', {
        headers: { location: `${o.baseUrl()}${CREATE_PATH}/${id}` },
      });
    }
  };

  return postRoute(CREATE_PATH, o, answer);
}
