import assert from 'node:assert/strict';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FdSink } from '../../src/admission/decision-log.js';
import { parsePolicyText } from '../../src/admission/policy/index.js';
import { registryImageSource, SigstoreSignatureVerifier } from '../../src/admission/real-verifier.js';
import { reviewMode } from '../../src/admission/review-http.js';
import { createAdmissionServer } from '../../src/admission/server.js';
import { RegistryClient } from '../../src/oci/index.js';
import { getText, pod, postJson, review } from './helpers.js';

// Decisions that need no registry: images outside the policy's pattern (admitted), an image in
// scope that does not parse (denied), an excluded namespace (skipped).
const POLICY = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: check-images
spec:
  rules:
    - name: check-signature
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
        - imageReferences: ["registry.invalid/org/*"]
          failureAction: Enforce
          attestors:
            - entries:
                - keys:
                    publicKeys: |-
                      -----BEGIN PUBLIC KEY-----
                      MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE7yB+Y+Vlw2ZTcC0qcUjcOl6N1ffl
                      1IKz2JIZ7jNxPNRp4Ry3lckqMVr0v+3MlPSNdyzvB8GRNmIfR8+eD1ONvw==
                      -----END PUBLIC KEY-----
`;

async function start(t: import('node:test').TestContext, bodyLimit?: number) {
  const lines: string[] = [];
  const server = await createAdmissionServer({
    policies: parsePolicyText(POLICY, 'policy.yaml', { hasTrustedRoot: false }),
    source: registryImageSource(new RegistryClient({ timeoutMs: 1000 })),
    verifier: new SigstoreSignatureVerifier(),
    port: 0,
    timeoutMs: 1000,
    ...(bodyLimit ? { bodyLimit } : {}),
    decisionSink: { write: (l: string) => lines.push(l) },
  });
  t.after(() => server.close());
  return { server, lines, ca: server.caPem! };
}

/** A POST with a chosen content type and, optionally, no Content-Length (chunked). */
function post(url: string, ca: string, body: string, opts: { type?: string; chunked?: boolean } = {}) {
  return new Promise<{ status: number; text: string; connection?: string }>((resolve, reject) => {
    const headers: Record<string, string | number> = {};
    if (opts.type !== undefined) headers['content-type'] = opts.type;
    if (!opts.chunked) headers['content-length'] = Buffer.byteLength(body);
    const req = request(url, { method: 'POST', ca, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, connection: res.headers.connection }));
    });
    req.on('error', reject);
    if (opts.chunked) {
      // Several chunks: the limit must hold without a declared length.
      for (let i = 0; i < body.length; i += 16 * 1024) req.write(body.slice(i, i + 16 * 1024));
      req.end();
    } else req.end(body);
  });
}

test('reviewMode: POST /validate and /mutate, with or without a query', () => {
  assert.equal(reviewMode('POST', '/validate'), 'validate');
  assert.equal(reviewMode('POST', '/mutate?timeout=10s'), 'mutate');
  assert.equal(reviewMode('GET', '/validate'), undefined);
  assert.equal(reviewMode('POST', '/validate/x'), undefined);
  assert.equal(reviewMode('POST', '/mutatex'), undefined);
});

test('the review handler decides, answers with the uid, and logs one line per answer', async (t) => {
  const { server, lines, ca } = await start(t);
  assert.equal(server.app.server.keepAliveTimeout, 72_000, "the API server's connections stay open");
  const outside = review('Pod', pod('outside', ['nginx']));
  const a = await postJson(`${server.url}/mutate?timeout=10s`, outside, ca);
  assert.equal(a.status, 200, a.text);
  assert.deepEqual((a.body as { response: unknown }).response, { uid: outside.request.uid, allowed: true });
  const broken = review('Pod', pod('broken', ['registry.invalid/org/UPPER CASE']));
  const d = await postJson(`${server.url}/validate`, broken, ca);
  const dr = (
    d.body as { response: { uid: string; allowed: boolean; status: { code: number; message: string } } }
  ).response;
  assert.equal(dr.uid, broken.request.uid);
  assert.equal(dr.allowed, false);
  assert.equal(dr.status.code, 403);
  assert.match(dr.status.message, /was blocked due to the following policies/);
  const sys = review('Pod', pod('sys', ['registry.invalid/org/app:v1']), 'kube-system');
  assert.equal(
    ((await postJson(`${server.url}/validate`, sys, ca)).body as { response: { allowed: boolean } }).response
      .allowed,
    true,
  );

  assert.equal(lines.length, 3, 'one line per decision');
  const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.ok(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n')));
  assert.deepEqual(
    logged.map((l) => [l.event, l.endpoint, l.uid, l.outcome, l.allowed]),
    [
      ['admission.decision', 'mutate', outside.request.uid, 'allowed', true],
      ['admission.decision', 'validate', broken.request.uid, 'denied', false],
      ['admission.decision', 'validate', sys.request.uid, 'skipped', true],
    ],
  );
  assert.equal(logged[0]!.level, 30);
  assert.equal(typeof logged[0]!.time, 'number');
  assert.equal(logged[0]!.name, 'outside');
  assert.equal((logged[1]!.results as { status: string }[])[0]!.status, 'fail');
  assert.match(String(logged[2]!.skipped), /kube-system/);
});

test('bad input: 4xx JSON {code, message}, bounded body, one log line each, never a 5xx', async (t) => {
  const limit = 64 * 1024;
  const { server, lines, ca } = await start(t, limit);
  const cases: { body: string; type?: string; chunked?: boolean; status: number; code: RegExp }[] = [
    { body: '{', type: 'application/json', status: 400, code: /^INVALID_JSON$/ },
    { body: '', type: 'application/json', status: 400, code: /^INVALID_INPUT$/ },
    { body: '[]', type: 'application/json; charset=utf-8', status: 400, code: /^INVALID_INPUT$/ },
    { body: '{"__proto__":{"x":1}}', type: 'application/json', status: 400, code: /^INVALID_JSON$/ },
    {
      body: `${'['.repeat(100)}${']'.repeat(100)}`,
      type: 'application/json',
      status: 400,
      code: /^INVALID_JSON$/,
    },
    { body: '{"apiVersion":"v1"}', type: 'text/plain', status: 415, code: /^INVALID_INPUT$/ },
    { body: '{"apiVersion":"v1"}', status: 415, code: /^INVALID_INPUT$/ },
    {
      body: JSON.stringify({ pad: 'x'.repeat(limit) }),
      type: 'application/json',
      status: 413,
      code: /^TOO_LARGE$/,
    },
    {
      body: JSON.stringify({ pad: 'x'.repeat(limit * 4) }),
      type: 'application/json',
      chunked: true,
      status: 413,
      code: /^TOO_LARGE$/,
    },
  ];
  for (const c of cases) {
    const r = await post(`${server.url}/validate`, ca, c.body, c);
    assert.equal(r.status, c.status, `${c.body.slice(0, 40)} (${c.type}): ${r.text}`);
    const body = JSON.parse(r.text) as { code: string; message: string };
    assert.match(body.code, c.code);
    assert.equal(typeof body.message, 'string');
    if (c.status === 413) assert.equal(r.connection, 'close', 'an unread body ends the connection');
  }
  assert.equal(lines.length, cases.length);
  for (const l of lines) {
    const o = JSON.parse(l) as { outcome: string; error: { code: string } };
    assert.equal(o.outcome, 'malformed');
    assert.ok(o.error.code);
  }
  // The other routes still go through the shared Fastify set-up.
  assert.equal((await getText(`${server.url}/healthz`, ca)).status, 200);
  assert.equal((await getText(`${server.url}/readyz`, ca)).status, 200);
  const missing = await getText(`${server.url}/nope`, ca);
  assert.equal(missing.status, 404);
  assert.equal((JSON.parse(missing.text) as { code: string }).code, 'NOT_FOUND');
  const m = await getText(`${server.url}/metrics`, ca);
  assert.match(m.text, /sigil_admission_decisions_total\{endpoint="validate",outcome="malformed"\} 9/);
  // And the server still decides after all that.
  assert.equal(
    (await postJson(`${server.url}/validate`, review('Pod', pod('ok', ['nginx'])), ca)).status,
    200,
  );
});

test('FdSink writes whole lines to a file descriptor', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-fdsink-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'log');
  const fd = openSync(path, 'w');
  const sink = new FdSink(fd);
  const big = `${JSON.stringify({ x: 'é'.repeat(100_000) })}\n`;
  sink.write('{"a":1}\n');
  sink.write(big);
  closeSync(fd);
  assert.equal(readFileSync(path, 'utf8'), `{"a":1}\n${big}`);
});
