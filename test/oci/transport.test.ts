import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { isSigilError } from '../../src/errors/index.js';
import { computeDigest, parseReference, pushImage, RegistryClient, tinyImage } from '../../src/oci/index.js';
import { startDockerRegistry } from '../helpers/registry.js';

/** A loopback HTTP server that counts the TCP connections it accepts. */
async function countingServer(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const sockets: Socket[] = [];
  const srv = createServer(handler);
  srv.on('connection', (s: Socket) => sockets.push(s));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  return {
    host: `127.0.0.1:${port}`,
    sockets,
    close: () => {
      srv.closeAllConnections();
      return new Promise<void>((r) => srv.close(() => r()));
    },
  };
}

test('headDigest on docker-registry: the tag digest in one HEAD; a pinned digest must be served here', async (t) => {
  const registry = await startDockerRegistry(t);
  if (!registry) return;
  t.after(() => registry.stop());
  const client = new RegistryClient();
  const digest = await pushImage(client, parseReference(`${registry.host}/org/a:v1`), tinyImage('a'));
  await pushImage(client, parseReference(`${registry.host}/org/b:v1`), tinyImage('b'));
  assert.equal(await client.headDigest(parseReference(`${registry.host}/org/a:v1`)), digest);
  assert.equal(await client.resolveDigest(parseReference(`${registry.host}/org/a:v1`)), digest);
  assert.equal(await client.headDigest(parseReference(`${registry.host}/org/a@${digest}`)), digest);
  await assert.rejects(client.headDigest(parseReference(`${registry.host}/org/a:absent`)), (e: unknown) =>
    isSigilError(e, 'NOT_FOUND'),
  );
  // a's digest asked of repository b: not served there.
  await assert.rejects(client.headDigest(parseReference(`${registry.host}/org/b@${digest}`)), (e: unknown) =>
    isSigilError(e, 'NOT_FOUND'),
  );
});

test('headDigest: a header naming another digest is refused; no header falls back to GET and hashes the bytes', async (t) => {
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: `sha256:${'1'.repeat(64)}`,
        size: 2,
      },
      layers: [],
    }),
  );
  const real = computeDigest(manifest);
  const other = `sha256:${'2'.repeat(64)}`;
  const srv = await countingServer((req, res) => {
    const headers: Record<string, string> = {
      'content-type': 'application/vnd.oci.image.manifest.v1+json',
      'content-length': String(manifest.length),
    };
    if (req.url?.includes('/lying/')) headers['docker-content-digest'] = other;
    if (req.url?.includes('/bad/')) headers['docker-content-digest'] = 'sha256:zz';
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : manifest);
  });
  t.after(() => srv.close());
  const client = new RegistryClient();
  assert.equal(await client.headDigest(parseReference(`${srv.host}/silent/app:v1`)), real);
  assert.equal(
    await client.headDigest(parseReference(`${srv.host}/lying/app:v1`)),
    other,
    "a tag's digest is the registry's claim",
  );
  await assert.rejects(client.headDigest(parseReference(`${srv.host}/lying/app@${real}`)), (e: unknown) =>
    isSigilError(e, 'DIGEST_MISMATCH'),
  );
  await assert.rejects(client.headDigest(parseReference(`${srv.host}/bad/app:v1`)), (e: unknown) =>
    isSigilError(e, 'INVALID_REFERENCE'),
  );
});

test('keep-alive: sequential requests share one connection; a connection the server closed is replaced', async (t) => {
  let n = 0;
  const srv = await countingServer((req, res) => {
    n++;
    // As registries do: a HEAD states the length of the body it does not send.
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': '2',
      'docker-content-digest': `sha256:${'3'.repeat(64)}`,
    });
    res.end(req.method === 'HEAD' ? undefined : '{}');
  });
  t.after(() => srv.close());
  const client = new RegistryClient();
  const ref = parseReference(`${srv.host}/org/app:v1`);
  for (let i = 0; i < 20; i++) await client.headDigest(ref);
  assert.equal(n, 20);
  assert.equal(srv.sockets.length, 1, 'twenty HEADs over one connection');
  // The server drops its idle connection without telling; the next request still succeeds.
  for (const s of srv.sockets) s.destroy();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(await client.headDigest(ref), `sha256:${'3'.repeat(64)}`);
  assert.equal(srv.sockets.length, 2);
});
