import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { SignJWT } from 'jose';
import { startDockerRegistry } from '../helpers/registry.js';
import { createApp, listen } from '../../src/server/index.js';
import {
  RegistryClient,
  computeDigest,
  dockerConfigPath,
  loadDockerCredentials,
  parseChallenge,
  parseDockerConfig,
  parseReference,
  pushImage,
  staticCredentials,
  tinyImage,
  writeSignature,
  readSignatures,
  buildSimpleSigningPayload,
} from '../../src/oci/index.js';
import { createRegistryServer } from '../../src/demo/registry/index.js';
import { isSigilError } from '../../src/errors/index.js';

test('challenge and docker config parsing', () => {
  assert.deepEqual(
    parseChallenge(
      'Bearer realm="https://auth.example/token",service="reg.example",scope="repository:a/b:pull,push"',
    ),
    {
      scheme: 'bearer',
      params: {
        realm: 'https://auth.example/token',
        service: 'reg.example',
        scope: 'repository:a/b:pull,push',
      },
    },
  );
  assert.deepEqual(parseChallenge('Basic realm="x \\"y\\""'), {
    scheme: 'basic',
    params: { realm: 'x "y"' },
  });
  const cfg = parseDockerConfig(
    JSON.stringify({
      auths: {
        'https://index.docker.io/v1/': { auth: Buffer.from('hub:pw:with:colons').toString('base64') },
        'localhost:5000': { username: 'u', password: 'p' },
        'https://ghcr.io': { auth: Buffer.from('g:h').toString('base64') },
      },
    }),
  );
  assert.deepEqual(cfg.get('docker.io'), { username: 'hub', password: 'pw:with:colons' });
  assert.deepEqual(cfg.get('localhost:5000'), { username: 'u', password: 'p' });
  assert.deepEqual(cfg.get('ghcr.io'), { username: 'g', password: 'h' });
  assert.throws(
    () => parseDockerConfig('{"auths":{"x.io":{"auth":"bm9jb2xvbg=="}}}'),
    (e: unknown) => isSigilError(e, 'INVALID_INPUT'),
  );
  assert.equal(dockerConfigPath({ DOCKER_CONFIG: '/cfg' }, '/home/u'), '/cfg/config.json');
  assert.equal(dockerConfigPath({}, '/home/u'), '/home/u/.docker/config.json');
  // plain HTTP only for loopback and named registries
  const c = new RegistryClient({ insecureRegistries: ['registry.lan:5000'] });
  assert.equal(c.baseUrl('registry.lan:5000'), 'http://registry.lan:5000');
  assert.equal(c.baseUrl('registry.lan:5001'), 'https://registry.lan:5001');
  assert.equal(c.baseUrl('ghcr.io'), 'https://ghcr.io');
  assert.equal(c.baseUrl('127.0.0.1:5000'), 'http://127.0.0.1:5000');
  assert.equal(c.baseUrl('localhost.evil.com'), 'https://localhost.evil.com');
});

test('credentials from a docker config.json (DOCKER_CONFIG) against a basic-auth registry', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-dockercfg-'));
  const reg = await createRegistryServer({
    port: 0,
    auth: { username: 'alice', password: 'pa:ss' },
    logLevel: 'silent',
  });
  t.after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await reg.close();
  });
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from('alice:pa:ss').toString('base64') } } }),
  );
  const client = new RegistryClient({
    credentials: loadDockerCredentials(dockerConfigPath({ DOCKER_CONFIG: dir })),
  });
  const img = tinyImage('dockercfg');
  assert.equal(await pushImage(client, parseReference(`${reg.host}/org/app:v1`), img), img.digest);
  // a missing config means anonymous, which this registry refuses
  const anon = new RegistryClient({ credentials: loadDockerCredentials(join(dir, 'absent.json')) });
  await assert.rejects(anon.resolveDigest(parseReference(`${reg.host}/org/app:v1`)), (e: unknown) =>
    isSigilError(e, 'UNAUTHENTICATED'),
  );
});

async function tokenServer(service: string, issuer: string, users: Record<string, string>) {
  const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: '01',
      name: 'CN=sigil-test-token-issuer',
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 3_600_000),
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      keys,
    },
    webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.create>[1],
  );
  const seen: { authorization?: string; scopes: string[] }[] = [];
  const app = createApp({ logLevel: 'silent' });
  app.get('/token', async (req, reply) => {
    const q = req.query as { scope?: string | string[]; service?: string };
    const scopes = q.scope === undefined ? [] : Array.isArray(q.scope) ? q.scope : [q.scope];
    seen.push({ authorization: req.headers.authorization, scopes });
    const auth = req.headers.authorization ?? '';
    const [user, pass] = auth.startsWith('Basic ')
      ? Buffer.from(auth.slice(6), 'base64').toString().split(':')
      : [];
    if (!user || users[user] !== pass)
      return reply.status(401).send({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] });
    if (q.service !== service)
      return reply.status(400).send({ errors: [{ code: 'DENIED', message: 'wrong service' }] });
    const access = scopes.map((s) => {
      const [type, ...rest] = s.split(':');
      const actions = rest.pop()!.split(',');
      return { type, name: rest.join(':'), actions };
    });
    const token = await new SignJWT({ access })
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT', x5c: [Buffer.from(cert.rawData).toString('base64')] })
      .setIssuer(issuer)
      .setSubject(user)
      .setAudience(service)
      .setIssuedAt()
      .setNotBefore(Math.floor(Date.now() / 1000) - 30)
      .setExpirationTime('5m')
      .setJti(String(seen.length))
      .sign(keys.privateKey);
    return { token, expires_in: 300 };
  });
  const url = await listen(app, 0);
  return { url, certPem: cert.toString('pem'), seen, close: () => app.close() };
}

test('bearer token challenge against docker-registry with token auth; credentials go only to the token realm', async (t) => {
  const service = 'sigil-test-registry';
  const issuer = 'sigil-test-token-issuer';
  const ts = await tokenServer(service, issuer, { ci: 'hunter2' });
  t.after(() => ts.close());
  const reg = await startDockerRegistry(t, {
    tokenAuth: { realm: `${ts.url}/token`, service, issuer, rootCertPem: ts.certPem },
  });
  if (!reg) return;
  t.after(() => reg.stop());

  const ref = parseReference(`${reg.host}/org/app:v1`);
  const anon = new RegistryClient();
  await assert.rejects(
    anon.resolveDigest(ref),
    (e: unknown) => isSigilError(e, 'UNAUTHENTICATED') && /token server/.test(e.message),
  );
  const wrong = new RegistryClient({ credentials: staticCredentials({ username: 'ci', password: 'nope' }) });
  await assert.rejects(wrong.ping(reg.host), (e: unknown) => isSigilError(e, 'UNAUTHENTICATED'));

  const client = new RegistryClient({
    credentials: staticCredentials({ username: 'ci', password: 'hunter2' }, reg.host),
  });
  const img = tinyImage('bearer');
  assert.equal(await pushImage(client, ref, img), img.digest);
  assert.equal(await client.resolveDigest(ref), img.digest);
  const pinned = ref.withDigest(img.digest);
  await writeSignature(client, pinned, {
    payload: buildSimpleSigningPayload(ref.dockerReference(), img.digest),
    signature: 'c2ln',
  });
  assert.equal((await readSignatures(client, pinned)).length, 1);
  // tokens were requested with the scopes the operations need, with basic credentials
  assert.ok(ts.seen.some((s) => s.scopes.includes('repository:org/app:pull,push')));
  assert.ok(ts.seen.some((s) => s.scopes.includes('repository:org/app:pull')));
  const okCalls = ts.seen.filter(
    (s) => s.authorization === `Basic ${Buffer.from('ci:hunter2').toString('base64')}`,
  );
  assert.ok(okCalls.length >= 2);
  // tokens are cached: far fewer token requests than registry requests
  assert.ok(ts.seen.length < 12, `token requests: ${ts.seen.length}`);
});

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
async function rawServer(handler: Handler): Promise<{ host: string; close: () => Promise<void> }> {
  const srv = createServer(handler);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const addr = srv.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    host: `127.0.0.1:${port}`,
    close: () =>
      new Promise((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  };
}

test('redirects: credentials are not sent to another origin; redirects are capped', async (t) => {
  const blob = Buffer.from('the real blob');
  const digest = computeDigest(blob);
  const cdnSeen: (string | undefined)[] = [];
  const cdn = await rawServer((req, res) => {
    cdnSeen.push(req.headers.authorization);
    res.writeHead(200, { 'content-length': blob.length }).end(blob);
  });
  const registrySeen: (string | undefined)[] = [];
  const registry = await rawServer((req, res) => {
    registrySeen.push(req.headers.authorization);
    if (!req.headers.authorization) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end();
      return;
    }
    if (req.url === `/v2/org/app/blobs/${digest}`)
      res.writeHead(307, { location: `http://${cdn.host}/storage/blob?sig=1` }).end();
    else if (req.url?.startsWith('/v2/org/loop/')) res.writeHead(302, { location: req.url }).end();
    else res.writeHead(404).end();
  });
  t.after(async () => {
    await cdn.close();
    await registry.close();
  });
  const client = new RegistryClient({ credentials: staticCredentials({ username: 'u', password: 'p' }) });
  const repo = parseReference(`${registry.host}/org/app`);
  assert.deepEqual(await client.getBlob(repo, digest), blob);
  assert.ok(registrySeen.some((a) => a?.startsWith('Basic ')));
  assert.deepEqual(cdnSeen, [undefined]);
  await assert.rejects(
    client.getBlob(parseReference(`${registry.host}/org/loop`), digest),
    (e: unknown) => isSigilError(e, 'REGISTRY_ERROR') && /more than 5 redirects/.test(e.message),
  );
});

test('a registry serving other bytes than asked for is caught; oversized and slow answers are bounded', async (t) => {
  const real = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: computeDigest(Buffer.from('{}')),
        size: 2,
      },
      layers: [],
    }),
  );
  const evil = Buffer.from(real.toString().replace('"layers":[]', '"layers": []'));
  const realDigest = computeDigest(real);
  const srv = await rawServer((req, res) => {
    const url = req.url ?? '';
    if (url.endsWith(`/manifests/${realDigest}`) || url.endsWith('/manifests/v1')) {
      // serves different bytes while claiming the requested digest
      res
        .writeHead(200, {
          'content-type': 'application/vnd.oci.image.manifest.v1+json',
          'docker-content-digest': realDigest,
        })
        .end(evil);
    } else if (url.endsWith('/manifests/huge')) {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let sent = 0;
      const pump = (): void => {
        while (sent < 8 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    } else if (url.endsWith('/manifests/declared-huge')) {
      res.writeHead(200, { 'content-length': String(5 * 1024 * 1024) }).end();
    } else if (url.endsWith('/manifests/stall')) {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
      res.write('{"schemaVersion":');
    } else if (url.endsWith('/manifests/slow')) {
      // never answers
    } else if (url.includes('/blobs/')) {
      res.writeHead(200).end(Buffer.from('not the blob'));
    } else res.writeHead(404).end();
  });
  t.after(() => srv.close());
  const client = new RegistryClient({ timeoutMs: 10_000 });
  const impatient = new RegistryClient({ timeoutMs: 500 });
  const base = `${srv.host}/org/app`;
  await assert.rejects(
    client.getManifest(parseReference(`${base}@${realDigest}`)),
    (e: unknown) => isSigilError(e, 'DIGEST_MISMATCH') && /expected sha256:/.test(e.message),
  );
  await assert.rejects(client.resolveDigest(parseReference(`${base}:v1`)), (e: unknown) =>
    isSigilError(e, 'DIGEST_MISMATCH'),
  );
  await assert.rejects(client.getBlob(parseReference(base), realDigest), (e: unknown) =>
    isSigilError(e, 'DIGEST_MISMATCH'),
  );
  await assert.rejects(client.getManifest(parseReference(`${base}:huge`)), (e: unknown) =>
    isSigilError(e, 'TOO_LARGE'),
  );
  await assert.rejects(client.getManifest(parseReference(`${base}:declared-huge`)), (e: unknown) =>
    isSigilError(e, 'TOO_LARGE'),
  );
  await assert.rejects(
    impatient.getManifest(parseReference(`${base}:stall`)),
    (e: unknown) => isSigilError(e, 'REGISTRY_ERROR') && /timed out/.test(e.message),
  );
  await assert.rejects(
    impatient.getManifest(parseReference(`${base}:slow`)),
    (e: unknown) => isSigilError(e, 'REGISTRY_ERROR') && /timed out/.test(e.message),
  );
  await assert.rejects(client.getManifest(parseReference(`${base}:absent`)), (e: unknown) =>
    isSigilError(e, 'NOT_FOUND'),
  );
});
