import type { FastifyInstance } from 'fastify';
import { createApp, listen } from '../server/index.js';

export interface TrustFilesServer {
  url: string;
  close(): Promise<void>;
}

/**
 * Serves the stack's trusted_root.json and signing_config.json (what clients fetch instead of a
 * TUF repository in a dev stack): `GET /trusted_root.json`, `GET /signing_config.json`.
 */
export async function createTrustFilesServer(config: {
  files: Record<string, string>;
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
  const url = await listen(app, config.port, config.host ?? '127.0.0.1');
  return { url, close: () => app.close() };
}
