import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { SigilError } from '../../errors/index.js';
import { parseTilePath, tilePath } from './paths.js';
import { startTilePublisher, type TileSource } from './writer.js';

async function readOrNotFound(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new SigilError('NOT_FOUND', `${what} not found`);
    throw new SigilError('UNAVAILABLE', `cannot read ${what}`, { cause: e });
  }
}

/**
 * The C2SP tlog-tiles read API over a tile directory: GET /checkpoint (short cache) and
 * GET /tile/… (immutable). Paths are parsed strictly and re-formatted before touching the disk,
 * so nothing but canonical tile paths is ever read.
 */
export function registerTileRoutes(app: FastifyInstance, dir: string): void {
  app.get('/checkpoint', async (_req, reply) => {
    const body = await readOrNotFound(join(dir, 'checkpoint'), 'checkpoint');
    return reply
      .header('content-type', 'text/plain; charset=utf-8')
      .header('cache-control', 'no-cache')
      .send(body);
  });
  app.get('/tile/*', async (req, reply) => {
    const rest = (req.params as { '*': string })['*'];
    const id = parseTilePath(`tile/${rest}`);
    const body = await readOrNotFound(join(dir, tilePath(id)), `tile ${rest.slice(0, 64)}`);
    return reply
      .header('content-type', 'application/octet-stream')
      .header('cache-control', 'public, max-age=31536000, immutable')
      .send(body);
  });
}

export interface TilesPluginOptions {
  log: TileSource;
  dir: string;
  intervalMs?: number;
}

/** Publishes tiles of `log` into `dir` while the app runs and serves them (one app.register line). */
const tilesPlugin: FastifyPluginAsync<TilesPluginOptions> = async (app, opts) => {
  const publisher = startTilePublisher(opts.log, opts.dir, opts.intervalMs);
  app.addHook('onClose', async () => publisher.stop());
  registerTileRoutes(app, opts.dir);
};

export default tilesPlugin;
