import type { FastifyInstance } from 'fastify';
import { createApp, listen } from '../server/index.js';

export interface TrustFilesServer {
  url: string;
  close(): Promise<void>;
}

/**
 * Serves the stack's trusted_root.json and signing_config.json: `GET /trusted_root.json`,
 * `GET /signing_config.json`, and with `tuf` the same files as a TUF repository under `/tuf/`
 * (the mirror URL a client or an ImageValidatingPolicy's `tuf.mirror` names).
 */
export async function createTrustFilesServer(config: {
  files: Record<string, string>;
  tuf?: { files(): ReadonlyMap<string, Buffer> };
  host?: string;
  port: number;
  logLevel?: string;
}): Promise<TrustFilesServer> {
  const app: FastifyInstance = createApp({ logLevel: config.logLevel ?? 'warn', bodyLimit: 1024 });
  for (const [name, text] of Object.entries(config.files)) {
    app.get(`/${name}`, async (_req, reply) => {
      reply.type('application/json');
      return text;
    });
  }
  const tuf = config.tuf;
  if (tuf)
    app.get('/tuf/*', async (req, reply) => {
      const path = (req.params as { '*': string })['*'];
      const file = tuf.files().get(path);
      if (!file) return reply.code(404).send({ code: 'NOT_FOUND', message: `no TUF file ${path}` });
      reply.type('application/json');
      return file;
    });
  const url = await listen(app, config.port, config.host ?? '127.0.0.1');
  return { url, close: () => app.close() };
}
