import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';

const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));
/** As the v1 explorer: everything from this server, nothing inline, nothing framed. */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** GET / : a page that reads this Rekor v2 log through its own tlog-tiles (web/v2.html, v2.js). */
export function registerV2Explorer(app: FastifyInstance, dir = WEB_DIR): void {
  const files: [string, string, string][] = [
    ['/', 'v2.html', 'text/html; charset=utf-8'],
    ['/explorer/v2.js', 'v2.js', 'text/javascript; charset=utf-8'],
    ['/explorer/style.css', 'style.css', 'text/css; charset=utf-8'],
  ];
  for (const [route, name, type] of files) {
    const body = readFileSync(join(dir, name));
    app.get(route, async (_req, reply) =>
      reply
        .header('content-type', type)
        .header('content-security-policy', CSP)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .header('cache-control', 'no-cache')
        .send(body),
    );
  }
}
