// The timestamp route on plain node:http (the default) against the same route through Fastify:
// the same answers to good and bad requests, and back-pressure (503 + Retry-After) on the fast route.
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { AsnConvert } from '@peculiar/asn1-schema';
import { PKIStatus, TimeStampResp } from '@peculiar/asn1-tsp';
import { postTimestamp, withTsa } from './helpers.js';

const goodJson = { artifactHash: Buffer.alloc(32, 1).toString('base64'), hashAlgorithm: 'sha256' };
const CASES: { name: string; body: Buffer | string; type?: string }[] = [
  { name: 'garbage DER', body: Buffer.from('not der') },
  { name: 'empty', body: Buffer.alloc(0) },
  { name: 'oversized DER', body: Buffer.alloc(64 * 1024, 0x30) },
  { name: 'not JSON', body: '{', type: 'application/json' },
  {
    name: 'bad hash name',
    body: JSON.stringify({ ...goodJson, hashAlgorithm: 'md5' }),
    type: 'application/json',
  },
  {
    name: 'sha1 (badAlg)',
    body: JSON.stringify({ ...goodJson, hashAlgorithm: 'sha1' }),
    type: 'application/json',
  },
  { name: 'text/plain', body: 'x', type: 'text/plain' },
  { name: 'charset parameter', body: JSON.stringify(goodJson), type: 'application/json; charset=utf-8' },
];

/** What a client acts on in an answer: a reply's status and token, or an error's status and code. */
async function observe(url: string, c: (typeof CASES)[number]): Promise<string> {
  const res = await postTimestamp(url, c.body, c.type);
  if (res.type === 'application/timestamp-reply') {
    const resp = AsnConvert.parse(res.body, TimeStampResp);
    return `${res.status} reply status=${resp.status.status} token=${resp.timeStampToken !== undefined}`;
  }
  // Messages may differ in wording (Fastify words its own refusals); status and code may not.
  const err = JSON.parse(res.body.toString()) as { code: unknown; message: unknown };
  assert.equal(typeof err.message, 'string');
  return `${res.status} ${res.type} ${String(err.code)}`;
}

test('the node:http route answers every case as the Fastify route does (status, type, code)', async () => {
  const seen: Record<string, string[]> = { node: [], fastify: [] };
  for (const http of ['node', 'fastify'] as const)
    await withTsa(
      async (tsa) => {
        for (const c of CASES) seen[http]!.push(`${c.name}: ${await observe(tsa.timestampUrl, c)}`);
        seen[http]!.push(
          `query string: ${(await postTimestamp(`${tsa.timestampUrl}?x=1`, JSON.stringify(goodJson), 'application/json')).status}`,
        );
        seen[http]!.push(`GET: ${(await fetch(tsa.timestampUrl)).status}`);
      },
      { hotPath: { http } },
    );
  assert.deepEqual(seen.node, seen.fastify);
  assert.ok(seen.node!.some((l) => l.startsWith('charset parameter: 200 reply status=0 token=true')));
  assert.ok(
    seen.node!.some((l) =>
      l.startsWith(`sha1 (badAlg): 200 reply status=${PKIStatus.rejection} token=false`),
    ),
  );
  assert.ok(seen.node!.some((l) => l.startsWith('oversized DER: 413')));
});

test('a body without a content type is a 415 UNSUPPORTED_MEDIA_TYPE (Fastify said INVALID_INPUT)', async () => {
  await withTsa(async (tsa) => {
    assert.equal(
      await observe(tsa.timestampUrl, { name: 'none', body: 'x', type: '' }),
      '415 application/json; charset=utf-8 UNSUPPORTED_MEDIA_TYPE',
    );
  });
});

test('at capacity the node:http route answers 503 with Retry-After, and serves again after', async () => {
  await withTsa(
    async (tsa) => {
      const { hostname, port } = new URL(tsa.url);
      // One request held in flight: its headers promise a body that has not arrived yet.
      const held = connect(Number(port), hostname);
      await new Promise<void>((resolve) => held.once('connect', resolve));
      const rest = Buffer.from(JSON.stringify(goodJson));
      held.write(
        `POST /api/v1/timestamp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${rest.length}\r\n\r\n`,
      );
      await new Promise((r) => setTimeout(r, 200));
      const refused = await fetch(tsa.timestampUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(goodJson),
      });
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get('retry-after'), '1');
      assert.equal(((await refused.json()) as { code: string }).code, 'PUSHBACK');
      const answer = new Promise<string>((resolve) => {
        let out = '';
        held.on('data', (d: Buffer) => {
          out += d.toString('latin1');
          if (out.includes('\r\n\r\n')) resolve(out);
        });
      });
      held.write(rest);
      assert.match(await answer, /^HTTP\/1\.1 200 /);
      held.destroy();
      const again = await postTimestamp(tsa.timestampUrl, JSON.stringify(goodJson), 'application/json');
      assert.equal(again.status, 200);
    },
    { maxInFlight: 1 },
  );
});
