import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { createLogServer } from '../../src/rekor/server.js';
import { createCaServer } from '../../src/ca/server.js';
import { issuerFrom } from '../../src/oidc/config.js';
import { createOidcServer } from '../../src/oidc/dev-issuer.js';
import { parsePolicyText } from '../../src/admission/policy/index.js';
import { createAdmissionServer } from '../../src/admission/server.js';
import { registryImageSource, SigstoreSignatureVerifier } from '../../src/admission/real-verifier.js';
import { RegistryClient } from '../../src/oci/index.js';
import { postJson as postHttps } from '../admission/helpers.js';
import { entryMaker, tempDir, within } from '../reliability/helpers.js';
import { certificateAndCsr, mutatedBytes, mutatedJson, mutatedText, RUNS } from './helpers.js';
import { pemBlocks, toPem } from '../../src/crypto/index.js';

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');

/** A 4xx answer must be JSON `{code, message}`; nothing may be 5xx. */
function check4xx(status: number, text: string, what: string): void {
  assert.ok(status < 500, `${what} answered ${status}: ${text.slice(0, 300)}`);
  if (status >= 400) {
    const body = JSON.parse(text) as { code?: unknown; message?: unknown };
    assert.equal(typeof body.code, 'string', `${what}: 4xx body has a code`);
    assert.equal(typeof body.message, 'string', `${what}: 4xx body has a message`);
  }
}

test('log HTTP API: mutated hashedrekord/dsse entries and hostile reads → 4xx {code,message}, never 5xx; the tree grows only by 201s', async (t) => {
  const log = await createLogServer({ dataDir: tempDir(t), port: 0, logLevel: 'silent', workers: 1 });
  t.after(() => log.close());
  const hr = JSON.parse(entryMaker()()) as Record<string, unknown>;
  // hashedrekord with a certificate as verifier (signature by the certificate's key over `data`).
  const { certPem } = await certificateAndCsr();
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const data = Buffer.from('fuzz artifact');
  const hrKey = {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      signature: {
        content: b64(sign('sha256', data, privateKey)),
        publicKey: { content: b64(toPem('PUBLIC KEY', publicKey.export({ type: 'spki', format: 'der' }))) },
      },
      data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(data).digest('hex') } },
    },
  };
  const envelope = {
    payloadType: 'application/vnd.in-toto+json',
    payload: b64('{"_type":"https://in-toto.io/Statement/v1","subject":[]}'),
    signatures: [{ keyid: '', sig: 'MEUCIQ==' }],
  };
  const dsse = {
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: { proposedContent: { envelope: JSON.stringify(envelope), verifiers: [b64(certPem)] } },
  };
  const withCert = (der: Buffer): Record<string, unknown> => ({
    ...hr,
    spec: {
      ...(hr.spec as object),
      signature: { content: 'MEUCIQ==', publicKey: { content: b64(toPem('CERTIFICATE', der)) } },
    },
  });
  const certDer = pemBlocks(certPem)[0]!.der;
  const bodies = fc.oneof(
    mutatedJson(hr).map((v) => JSON.stringify(v) ?? ''),
    mutatedJson(hrKey).map((v) => JSON.stringify(v) ?? ''),
    mutatedJson(dsse).map((v) => JSON.stringify(v) ?? ''),
    mutatedText(JSON.stringify(hr)),
    mutatedText(JSON.stringify(dsse)),
    mutatedBytes(certDer).map((der) => JSON.stringify(withCert(der))),
    fc.jsonValue({ maxDepth: 5 }).map((v) => JSON.stringify(v) ?? ''),
    fc.constantFrom(
      '['.repeat(100) + ']'.repeat(100),
      '{"__proto__":{"x":1}}',
      '\u0000',
      '{"kind":"hashedrekord","apiVersion":"0.0.1","spec":' + '['.repeat(70) + ']'.repeat(70) + '}',
    ),
  );
  // A parseable certificate whose EC point is not on the curve (X509Certificate parses the key lazily).
  const point = certDer.indexOf(Buffer.from([0x03, 0x42, 0x00, 0x04]));
  const badPoint = Buffer.from(certDer);
  badPoint[point + 10] = badPoint[point + 10]! ^ 0xff;
  const lazy = await fetch(`${log.url}/api/v1/log/entries`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(withCert(badPoint)),
  });
  check4xx(lazy.status, await lazy.text(), 'certificate with an off-curve key');
  assert.ok(lazy.status >= 400);
  const before = (await (await fetch(`${log.url}/api/v1/log`)).json()) as { treeSize: number };
  assert.equal(
    (await fetch(`${log.url}/checkpoint`)).status,
    200,
    'the tlog-tiles routes are served (fuzzed below)',
  );
  let created = 0;
  await fc.assert(
    fc.asyncProperty(bodies, async (body) => {
      const res = await within(
        10_000,
        fetch(`${log.url}/api/v1/log/entries`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        }),
        'create',
      );
      const text = await res.text();
      if (res.status === 201) created++;
      else check4xx(res.status, text, 'POST /api/v1/log/entries');
    }),
    { numRuns: RUNS(300) },
  );
  const num = fc.oneof(
    fc.integer(),
    fc.constantFrom('-1', '1e3', '0x10', '9007199254740993', '', 'NaN', '00', ' 1', '1.5'),
    fc.string({ maxLength: 12 }),
  );
  const reads = fc.oneof(
    num.map((n) => `/api/v1/log/entries?logIndex=${encodeURIComponent(String(n))}`),
    fc
      .tuple(num, num)
      .map(
        ([a, b]) =>
          `/api/v1/log/proof?firstSize=${encodeURIComponent(String(a))}&lastSize=${encodeURIComponent(String(b))}`,
      ),
    fc.string({ maxLength: 100 }).map((s) => `/api/v1/log/entries/${encodeURIComponent(s)}`),
    fc.stringMatching(/^[0-9a-f]{0,90}$/).map((s) => `/api/v1/log/entries/${s}`),
    num.map((n) => `/api/v1/log?treeID=${encodeURIComponent(String(n))}`),
    num.map((n) => `/api/v1/log/entries/${encodeURIComponent(String(n))}/proof`),
    fc.string({ maxLength: 60 }).map((s) => `/tile/${encodeURIComponent(s)}`),
    fc
      .tuple(
        fc.oneof(fc.constant('entries'), fc.integer({ min: -1, max: 70 }).map(String)),
        fc.stringMatching(/^(x[0-9]{3}\/){0,8}[0-9]{1,4}(\.p\/[0-9]{1,4})?$/),
      )
      .map(([l, n]) => `/tile/${l}/${n}`),
    fc.constantFrom(
      '/checkpoint',
      '/tile/0/000',
      '/tile/entries/000',
      '/tile/0/000.p/1',
      '/tile/0/x000/000',
      '/tile/../../etc/passwd',
      '/tile/0/%2e%2e/000',
    ),
  );
  await fc.assert(
    fc.asyncProperty(reads, async (path) => {
      const res = await within(10_000, fetch(`${log.url}${path}`), `GET ${path}`);
      check4xx(res.status, await res.text(), `GET ${path}`);
    }),
    { numRuns: RUNS(300) },
  );
  const searches = fc.oneof(
    fc.jsonValue({ maxDepth: 4 }),
    mutatedJson({ entryUUIDs: ['a'.repeat(64)], logIndexes: [0] }),
    mutatedJson({ hash: `sha256:${'0'.repeat(64)}`, email: 'a@b' }),
  );
  await fc.assert(
    fc.asyncProperty(
      searches,
      fc.constantFrom('/api/v1/log/entries/retrieve', '/api/v1/index/retrieve'),
      async (body, path) => {
        const res = await within(
          10_000,
          fetch(`${log.url}${path}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(body) ?? 'null',
          }),
          path,
        );
        check4xx(res.status, await res.text(), `POST ${path}`);
      },
    ),
    { numRuns: RUNS(200) },
  );
  const after = (await (await fetch(`${log.url}/api/v1/log`)).json()) as { treeSize: number };
  assert.equal(after.treeSize, before.treeSize + created, 'the tree grew exactly by the accepted entries');
  t.diagnostic(`accepted mutated entries=${created}`);
});

test('CA HTTP API: mutated signingCert requests → 4xx {code,message}, never 5xx', async (t) => {
  const dir = tempDir(t);
  const oidc = await createOidcServer({ dataDir: join(dir, 'oidc'), port: 0, logLevel: 'silent' });
  t.after(() => oidc.close());
  const ca = await createCaServer({
    dataDir: join(dir, 'ca'),
    port: 0,
    logLevel: 'silent',
    oidc: { issuers: [issuerFrom({ issuerUrl: oidc.issuer, type: 'github-workflow' })] },
  });
  t.after(() => ca.close());
  const token = await oidc.mint();
  const { csrPem } = await certificateAndCsr();
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const sub = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sub as string;
  const good = {
    credentials: { oidcIdentityToken: token },
    publicKeyRequest: {
      publicKey: { algorithm: 'ECDSA', content: publicKey.export({ type: 'spki', format: 'pem' }) },
      proofOfPossession: sign('sha256', Buffer.from(sub), privateKey).toString('base64'),
    },
  };
  const ok = await fetch(`${ca.url}/api/v2/signingCert`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(good),
  });
  assert.equal(ok.status, 200, await ok.text());
  const bodies = fc.oneof(
    mutatedJson(good).map((v) => JSON.stringify(v) ?? ''),
    mutatedJson({ credentials: { oidcIdentityToken: token }, certificateSigningRequest: b64(csrPem) }).map(
      (v) => JSON.stringify(v) ?? '',
    ),
    mutatedText(token).map((tok) => JSON.stringify({ ...good, credentials: { oidcIdentityToken: tok } })),
    mutatedText(JSON.stringify(good)),
    fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? ''),
  );
  await fc.assert(
    fc.asyncProperty(bodies, fc.option(fc.string({ maxLength: 50 })), async (body, auth) => {
      const res = await within(
        10_000,
        fetch(`${ca.url}/api/v2/signingCert`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(auth !== null ? { authorization: `Bearer ${auth.replace(/[^\x20-\x7e]/g, '')}` } : {}),
          },
          body,
        }),
        'signingCert',
      );
      const text = await res.text();
      if (res.status !== 200) check4xx(res.status, text, 'POST /api/v2/signingCert');
    }),
    { numRuns: RUNS(300) },
  );
});

test('admission webhook: random and mutated AdmissionReviews → a decision or 4xx, never 5xx', async (t) => {
  const { spkiPem } = await certificateAndCsr();
  const policies = parsePolicyText(
    `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: check-images
spec:
  rules:
    - name: check-signature
      match:
        any:
          - resources:
              kinds: [Pod, Deployment]
      verifyImages:
        - imageReferences: ["127.0.0.1:9/org/*"]
          failureAction: Enforce
          attestors:
            - entries:
                - keys:
                    publicKeys: |-
${spkiPem
  .trim()
  .split('\n')
  .map((l) => `                      ${l}`)
  .join('\n')}
`,
    'policy.yaml',
    { hasTrustedRoot: false },
  );
  const server = await createAdmissionServer({
    policies,
    source: registryImageSource(new RegistryClient({ timeoutMs: 2000 })),
    verifier: new SigstoreSignatureVerifier(),
    port: 0,
    timeoutMs: 1000,
    logLevel: 'silent',
  });
  t.after(() => server.close());
  const review = {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'u-1',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'default',
      name: 'p',
      operation: 'CREATE',
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'p', annotations: { 'kyverno.io/verify-images': '{"x":"pass"}' } },
        spec: {
          containers: [{ name: 'c', image: '127.0.0.1:9/org/app:v1' }],
          initContainers: [{ name: 'i', image: '127.0.0.1:9/org/init@sha256:' + '0'.repeat(64) }],
        },
      },
    },
  };
  const first = await postHttps(`${server.url}/mutate`, review, server.caPem!);
  assert.equal(first.status, 200, first.text);
  assert.equal(
    (first.body as { response: { allowed: boolean } }).response.allowed,
    false,
    'unreachable registry under Fail: denied',
  );
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(mutatedJson(review), fc.jsonValue({ maxDepth: 5 })),
      fc.constantFrom('/mutate', '/validate'),
      async (body, path) => {
        const r = await within(10_000, postHttps(`${server.url}${path}`, body, server.caPem!), path);
        check4xx(r.status, r.text, `POST ${path}`);
        if (r.status === 200) {
          const resp = (r.body as { response?: { allowed?: unknown; uid?: unknown } }).response;
          assert.equal(typeof resp?.allowed, 'boolean', `a 200 carries a decision: ${r.text.slice(0, 200)}`);
        }
      },
    ),
    { numRuns: RUNS(200) },
  );
});
