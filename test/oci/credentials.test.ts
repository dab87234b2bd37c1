import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  RegistryClient,
  loadMountedCredentials,
  parseReference,
  pushImage,
  staticCredentials,
  tinyImage,
} from '../../src/oci/index.js';
import { signImageBundle } from '../../src/sign/index.js';
import { clusterPolicy, keylessBuilder, WORKFLOW_RE } from './helpers.js';
import { requireBinary } from '../helpers/env.js';
import { startDockerRegistry } from '../helpers/registry.js';
import { runSigilInProcess, startStack } from '../e2e/stack.js';

test('mounted pull secrets: one directory per secret, ..data entries skipped, .dockercfg too, bad files refused by name', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-secrets-'));
  try {
    const auth = (u: string, p: string) => Buffer.from(`${u}:${p}`).toString('base64');
    mkdirSync(join(dir, 'regcred'));
    writeFileSync(
      join(dir, 'regcred', '.dockerconfigjson'),
      JSON.stringify({ auths: { 'https://reg.example:5000': { auth: auth('a', '1') } } }),
    );
    mkdirSync(join(dir, 'old'));
    writeFileSync(
      join(dir, 'old', '.dockercfg'),
      JSON.stringify({ 'ghcr.io': { auth: auth('b', '2') }, 'reg.example:5000': { auth: auth('x', 'x') } }),
    );
    mkdirSync(join(dir, '..2026_12_02'));
    writeFileSync(join(dir, '..2026_12_02', '.dockerconfigjson'), '{not json');
    const m = loadMountedCredentials(dir);
    assert.deepEqual([...m.secrets.keys()], ['old', 'regcred']);
    assert.deepEqual(m.storeFor(['regcred'])('reg.example:5000'), { username: 'a', password: '1' });
    assert.deepEqual(m.storeFor(['old'])('reg.example:5000'), { username: 'x', password: 'x' });
    assert.deepEqual(m.store('ghcr.io'), { username: 'b', password: '2' });
    assert.equal(m.store('other.example'), undefined);
    assert.equal(m.storeFor(['missing'])('ghcr.io'), undefined);
    mkdirSync(join(dir, 'broken'));
    writeFileSync(join(dir, 'broken', '.dockerconfigjson'), '{not json');
    assert.throws(() => loadMountedCredentials(dir), /pull secret .*broken.*dockerconfigjson/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a basic-auth docker-registry (htpasswd) reached through a mounted pull secret; the credentials never go to another host', async (t) => {
  if (!requireBinary(t, 'htpasswd')) return;
  const dir = mkdtempSync(join(tmpdir(), 'sigil-creds-'));
  const htpasswd = join(dir, 'htpasswd');
  writeFileSync(htpasswd, execFileSync('htpasswd', ['-Bbn', 'puller', 's3cret-pw']));
  const registry = await startDockerRegistry(t, { htpasswd });
  if (!registry) return;
  const stack = await startStack();
  // Another registry that asks for basic auth and records what it is sent.
  const seen: (string | undefined)[] = [];
  const other = createServer((req, res) => {
    seen.push(req.headers.authorization);
    res
      .writeHead(401, { 'www-authenticate': 'Basic realm="other"', 'content-type': 'application/json' })
      .end('{"errors":[{"code":"UNAUTHORIZED","message":"auth"}]}');
  });
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
  const otherHost = `127.0.0.1:${(other.address() as AddressInfo).port}`;
  t.after(async () => {
    other.closeAllConnections();
    await new Promise((r) => other.close(r));
    await stack.close();
    await registry.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const creds = { username: 'puller', password: 's3cret-pw' };
  const client = new RegistryClient({ credentials: staticCredentials(creds, registry.host) });
  const ref = parseReference(`${registry.host}/org/private:v1`);
  const digest = await pushImage(client, ref, tinyImage('private'));
  const builder = await keylessBuilder(stack);
  await signImageBundle({ client, image: ref.withDigest(digest), builder });

  const secrets = join(dir, 'secrets');
  mkdirSync(join(secrets, 'regcred'), { recursive: true });
  writeFileSync(
    join(secrets, 'regcred', '.dockerconfigjson'),
    JSON.stringify({
      auths: { [registry.host]: { auth: Buffer.from('puller:s3cret-pw').toString('base64') } },
    }),
  );
  writeFileSync(
    join(dir, 'policy.yaml'),
    clusterPolicy([`${registry.host}/org/*`, `${otherHost}/org/*`], {
      subjectRegExp: WORKFLOW_RE,
      issuer: stack.oidc.issuer,
    }),
  );
  const podFile = (name: string, image: string): string => {
    const p = join(dir, `${name}.yaml`);
    writeFileSync(
      p,
      `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\nspec:\n  containers:\n    - name: c\n      image: ${image}\n`,
    );
    return p;
  };
  const run = (resource: string, withSecrets: boolean) =>
    runSigilInProcess([
      'admission',
      'test',
      '--policy',
      join(dir, 'policy.yaml'),
      '--trusted-root',
      stack.trustedRootPath,
      ...(withSecrets ? ['--registry-credentials', secrets] : []),
      '--resource',
      resource,
    ]);
  const privatePod = podFile('private', `${registry.host}/org/private:v1`);
  const ok = await run(privatePod, true);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, new RegExp(`"allowed": true`));
  assert.match(ok.stdout, new RegExp(`org/private:v1@${digest}`));
  const anonymous = await run(privatePod, false);
  assert.equal(anonymous.code, 1);
  assert.match(anonymous.stderr, /requires credentials \(basic auth\); none are configured for it/);
  // The same run, for an image on the other host: its challenge gets no credentials.
  const elsewhere = await run(podFile('elsewhere', `${otherHost}/org/app:v1`), true);
  assert.equal(elsewhere.code, 1);
  assert.match(elsewhere.stderr, new RegExp(`registry ${otherHost} requires credentials`));
  assert.ok(seen.length > 0, 'the other host was asked');
  assert.deepEqual([...new Set(seen)], [undefined], 'no Authorization header ever reached the other host');

  // The CLI: --registry-username/--registry-password; a wrong password fails by name.
  const verify = (password: string) =>
    runSigilInProcess([
      'verify',
      '--trusted-root',
      stack.trustedRootPath,
      '--certificate-identity-regexp',
      WORKFLOW_RE,
      '--certificate-oidc-issuer',
      stack.oidc.issuer,
      '--registry-username',
      'puller',
      '--registry-password',
      password,
      `${registry.host}/org/private:v1`,
    ]);
  const v = await verify('s3cret-pw');
  assert.equal(v.code, 0, v.stderr);
  assert.equal(JSON.parse(v.stdout)[0].critical.image['docker-manifest-digest'], digest);
  const bad = await verify('wrong');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /rejected the credentials/);
});
