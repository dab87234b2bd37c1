import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { InFlightLimit, postRoute, readBodyBytes, sendJson } from '../../src/server/raw-http.js';

/** Sends headers and part of the body, then stalls; resolves with what the server answered (or '' when it never does). */
function stall(port: number, waitMs: number): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const s = connect(port, '127.0.0.1', () =>
      s.write('POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc'),
    );
    s.on('data', (d) => (got += d.toString('latin1')));
    const done = (): void => {
      s.destroy();
      resolve(got);
    };
    s.on('close', done);
    setTimeout(done, waitMs);
  });
}

/**
 * A body that trickles in (slowloris) held its in-flight slot for as long as Node's 300 s
 * requestTimeout (servers built with a serverFactory keep it): a few such connections kept every
 * fast route (the log's create, the TSA's timestamp) answering 503. The body now has a deadline:
 * 400 `{code, message}`, the connection closed, the slot given back.
 */
test('raw-http: a body not received within the deadline is answered 400 and frees its in-flight slot', async (t) => {
  const inFlight = new InFlightLimit(1);
  const route = postRoute('/x', { inFlight }, async (req, res) => {
    const body = await readBodyBytes(req, 1024, 300);
    sendJson(res, 200, JSON.stringify({ n: body.length }));
  });
  const server = createServer((req, res) => {
    if (!route(req, res)) sendJson(res, 404, '{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const { port } = server.address() as AddressInfo;
  const started = Date.now();
  const answer = await stall(port, 5000);
  assert.ok(Date.now() - started < 4000, 'the stalled body was not cut off');
  assert.match(answer, /^HTTP\/1\.1 400 /);
  assert.match(answer, /connection: close/i);
  assert.match(answer, /"code":"INVALID_INPUT"/);
  // The slot is free again: a normal request is served, not refused with 503.
  const ok = await fetch(`http://127.0.0.1:${port}/x`, { method: 'POST', body: 'hello' });
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), { n: 5 });
});
