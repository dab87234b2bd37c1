import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { isSigilError } from '../../src/errors/index.js';
import { fetchBounded, fetchJson } from '../../src/http/index.js';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('fetchJson: bounded while streaming, no redirects, a timeout, JSON or undefined', async (t) => {
  let streamed = 0;
  const server = createServer((req, res) => {
    if (req.url === '/json') {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end('{"a":[1,2]}');
    } else if (req.url === '/endless') {
      // chunked, no content-length: the bound must hold while the body streams in
      res.writeHead(200);
      const timer = setInterval(() => {
        streamed += 1024;
        res.write(Buffer.alloc(1024, 0x61));
      }, 1);
      res.on('close', () => clearInterval(timer));
    } else if (req.url === '/declared') {
      res.writeHead(200, { 'content-length': '5000' });
      res.end(Buffer.alloc(5000));
    } else if (req.url === '/moved') {
      res.writeHead(302, { location: '/json' });
      res.end();
    } else if (req.url === '/deep') {
      res.end(`${'['.repeat(100)}${']'.repeat(100)}`);
    } else if (req.url === '/hang') {
      // never answers
    } else {
      res.writeHead(404);
      res.end('no');
    }
  });
  const url = await listen(server);
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const opts = { timeoutMs: 2000, maxBytes: 4096 };

  const ok = await fetchJson(`${url}/json`, opts);
  assert.equal(ok.status, 201);
  assert.deepEqual(ok.json, { a: [1, 2] });

  const missing = await fetchJson(`${url}/nothing`, opts);
  assert.equal(missing.status, 404, 'the caller judges the status');
  assert.equal(missing.json, undefined);
  assert.equal(missing.text, 'no');

  await assert.rejects(fetchBounded(`${url}/endless`, { ...opts, what: 'the CA' }), (e: unknown) => {
    assert.ok(isSigilError(e, 'UPSTREAM_ERROR'));
    assert.equal(e.message, 'the CA answered more than 4096 bytes');
    return true;
  });
  assert.ok(streamed < 64 * 1024, `the read stopped early (${streamed} bytes sent)`);
  await assert.rejects(fetchBounded(`${url}/declared`, opts), /answered more than 4096 bytes/);

  await assert.rejects(fetchBounded(`${url}/moved`, opts), (e: unknown) => isSigilError(e, 'UPSTREAM_ERROR'));
  assert.equal((await fetchJson(`${url}/deep`, opts)).json, undefined, 'nested past the bound: not JSON');

  const started = Date.now();
  await assert.rejects(
    fetchBounded(`${url}/hang`, { ...opts, timeoutMs: 200, unreachable: 'UNAVAILABLE', what: 'the log' }),
    (e: unknown) => isSigilError(e, 'UNAVAILABLE') && /^cannot reach the log/.test(e.message),
  );
  assert.ok(Date.now() - started < 1500, 'the timeout bounds the exchange');
});
