import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createApp, listen } from '../../src/server/index.js';
import { SigilError } from '../../src/errors/index.js';

async function start() {
  const app = createApp({ logLevel: 'silent', bodyLimit: 1024 });
  app.post('/echo', async (req) => ({ got: req.body }));
  app.get('/fail', async () => {
    throw new SigilError('DUPLICATE_ENTRY', 'exists', { headers: { location: '/x' } });
  });
  app.get('/crash', async () => {
    throw new Error('secret internals');
  });
  const url = await listen(app, 0);
  return { app, url };
}

test('errors map to {code, message} with the right status and never leak internals', async () => {
  const { app, url } = await start();
  try {
    const dup = await fetch(`${url}/fail`);
    assert.equal(dup.status, 409);
    assert.equal(dup.headers.get('location'), '/x');
    assert.deepEqual(await dup.json(), { code: 'DUPLICATE_ENTRY', message: 'exists' });
    const crash = await fetch(`${url}/crash`);
    assert.equal(crash.status, 500);
    const body = await crash.text();
    assert.ok(!body.includes('secret internals'));
    const nf = await fetch(`${url}/nope`);
    assert.equal(nf.status, 404);
    assert.equal(((await nf.json()) as { code: string }).code, 'NOT_FOUND');
  } finally {
    await app.close();
  }
});

test('bad JSON, deep nesting and oversized bodies get 4xx JSON errors', async () => {
  const { app, url } = await start();
  const post = (body: string) =>
    fetch(`${url}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  try {
    const bad = await post('{"a":');
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { code: string }).code, 'INVALID_JSON');
    const deep = await post('['.repeat(200) + ']'.repeat(200));
    assert.equal(deep.status, 400);
    const big = await post(JSON.stringify({ a: 'x'.repeat(5000) }));
    assert.equal(big.status, 413);
    const proto = await post('{"__proto__":{"x":1}}');
    assert.equal(proto.status, 400);
    const ok = await post('{"a":[1,2]}');
    assert.deepEqual(await ok.json(), { got: { a: [1, 2] } });
  } finally {
    await app.close();
  }
});
