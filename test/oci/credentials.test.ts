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
import { registryAccess } from '../../src/admission/engine.js';
import { parsePolicyText } from '../../src/admission/policy/index.js';
import { extractPullSecrets } from '../../src/admission/resources.js';
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
    // A namespace directory: team-a/regcred is the secret regcred of namespace team-a.
    mkdirSync(join(dir, 'team-a', 'regcred'), { recursive: true });
    writeFileSync(
      join(dir, 'team-a', 'regcred', '.dockerconfigjson'),
      JSON.stringify({ auths: { 'reg.example:5000': { auth: auth('t', 'a') } } }),
    );
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({ auths: { 'default.example': { auth: auth('d', '0') } } }),
    );
    const m = loadMountedCredentials(dir, 'sigil-system');
    assert.deepEqual([...m.secrets.keys()], ['old', 'regcred', 'team-a/regcred']);
    assert.deepEqual(m.storeFor(['regcred'])('reg.example:5000'), { username: 'a', password: '1' });
    assert.deepEqual(m.storeFor(['old'])('reg.example:5000'), { username: 'x', password: 'x' });
    // The default store is the config directly in DIR only: named secrets are used when named.
    assert.deepEqual(m.store('default.example'), { username: 'd', password: '0' });
    assert.equal(m.store('ghcr.io'), undefined);
    assert.equal(m.store('reg.example:5000'), undefined);
    assert.equal(m.storeFor(['missing'])('ghcr.io'), undefined);
    // References: bare or the webhook's namespace = DIR/<name>; another namespace = DIR/<ns>/<name>.
    const team = m.resolve([{ namespace: 'team-a', name: 'regcred' }]);
    assert.deepEqual(team.store('reg.example:5000'), { username: 't', password: 'a' });
    assert.deepEqual(team.mounted, ['team-a/regcred']);
    const own = m.resolve([{ namespace: 'sigil-system', name: 'regcred' }, { name: 'old' }]);
    assert.deepEqual(own.mounted, ['regcred', 'old']);
    assert.deepEqual(own.store('reg.example:5000'), { username: 'a', password: '1' }, 'first secret wins');
    const other = m.resolve([
      { namespace: 'team-b', name: 'regcred' },
      { namespace: 'team-a', name: '../regcred' },
    ]);
    assert.deepEqual(other.mounted, []);
    assert.deepEqual(other.missing, ['team-b/regcred', 'team-a/../regcred']);
    assert.equal(
      other.store('reg.example:5000'),
      undefined,
      "another namespace's secret of the same name is not used",
    );
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

  // Mounted as Kubernetes would: DIR/<namespace>/<name> for a pod's pull secret (it lives in the
  // pod's namespace), DIR/<name> for a secret of the webhook's own namespace.
  const secrets = join(dir, 'secrets');
  const dockerConfig = JSON.stringify({
    auths: { [registry.host]: { auth: Buffer.from('puller:s3cret-pw').toString('base64') } },
  });
  mkdirSync(join(secrets, 'default', 'regcred'), { recursive: true });
  writeFileSync(join(secrets, 'default', 'regcred', '.dockerconfigjson'), dockerConfig);
  mkdirSync(join(secrets, 'webhook-cred'), { recursive: true });
  writeFileSync(join(secrets, 'webhook-cred', '.dockerconfigjson'), dockerConfig);
  const identity = { subjectRegExp: WORKFLOW_RE, issuer: stack.oidc.issuer };
  writeFileSync(
    join(dir, 'policy.yaml'),
    clusterPolicy([`${registry.host}/org/*`, `${otherHost}/org/*`], identity),
  );
  writeFileSync(
    join(dir, 'policy-creds.yaml'),
    clusterPolicy([`${registry.host}/org/*`], identity, [
      'imageRegistryCredentials:',
      '  secrets: [webhook-cred]',
    ]),
  );
  const podFile = (
    name: string,
    image: string,
    pullSecrets: string[] = [],
    namespace = 'default',
  ): string => {
    const p = join(dir, `${name}.yaml`);
    const names = pullSecrets.map((n) => `\n    - name: ${n}`).join('');
    writeFileSync(
      p,
      `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\n  namespace: ${namespace}\nspec:\n` +
        (pullSecrets.length ? `  imagePullSecrets:${names}\n` : '') +
        `  containers:\n    - name: c\n      image: ${image}\n`,
    );
    return p;
  };
  const run = (resources: string[], withSecrets: boolean, policy = 'policy.yaml') =>
    runSigilInProcess([
      'admission',
      'test',
      '--policy',
      join(dir, policy),
      '--trusted-root',
      stack.trustedRootPath,
      ...(withSecrets ? ['--registry-credentials', secrets] : []),
      ...resources.flatMap((r) => ['--resource', r]),
    ]);
  const decisions = (stdout: string) =>
    ([JSON.parse(stdout)].flat() as { resource: string; allowed: boolean }[]).map((d) => [
      d.resource,
      d.allowed,
    ]);
  const image = `${registry.host}/org/private:v1`;
  const named = podFile('named', image, ['regcred']);
  // One engine, one verification cache: the verdict got with the secret must not admit the
  // pod that does not name it.
  const both = await run([named, podFile('unnamed', image)], true);
  assert.equal(both.code, 1, both.stderr);
  assert.deepEqual(decisions(both.stdout), [
    ['Pod/default/named', true],
    ['Pod/default/unnamed', false],
  ]);
  assert.match(both.stdout, new RegExp(`org/private:v1@${digest}`));
  assert.match(both.stderr, /requires credentials \(basic auth\); none are configured for it/);
  // A pull secret that is not mounted, or one of another namespace, gives nothing (Kyverno
  // skips a secret it cannot find); the denial says which secrets were looked for.
  const missing = await run([podFile('missing', image, ['other'])], true);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /requires credentials .*no mounted pull secret; not mounted: default\/other/);
  const team = await run([podFile('team-b', image, ['regcred'], 'team-b')], true);
  assert.equal(team.code, 1);
  assert.match(team.stderr, /not mounted: team-b\/regcred/);
  const anonymous = await run([named], false);
  assert.equal(anonymous.code, 1);
  assert.match(anonymous.stderr, /requires credentials \(basic auth\)/);
  // The policy's imageRegistryCredentials.secrets (the webhook's namespace) for a pod naming none.
  const policyCreds = await run([podFile('by-policy', image)], true, 'policy-creds.yaml');
  assert.equal(policyCreds.code, 0, policyCreds.stderr);
  assert.deepEqual(decisions(policyCreds.stdout), [['Pod/default/by-policy', true]]);
  // The same pod secret, for an image on the other host: its challenge gets no credentials.
  const elsewhere = await run([podFile('elsewhere', `${otherHost}/org/app:v1`, ['regcred'])], true);
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

test("Kyverno's credential choice: the entry's secrets then the pod's (in its namespace); neither = defaults; IVPOL ignores the pod's", () => {
  const cpol = parsePolicyText(
    clusterPolicy(['reg.example/*'], { subjectRegExp: WORKFLOW_RE, issuer: 'https://i' }, [
      'imageRegistryCredentials:',
      '  secrets: [webhook-cred, "/team-a/shared"]',
    ]),
    'p.yaml',
    { hasTrustedRoot: true },
  )[0]!.rules[0]!;
  assert.deepEqual(registryAccess(cpol, ['regcred'], 'team-b'), {
    secrets: [
      { name: 'webhook-cred' },
      { namespace: 'team-a', name: 'shared' },
      { namespace: 'team-b', name: 'regcred' },
    ],
  });
  const plain = parsePolicyText(
    clusterPolicy(['reg.example/*'], { subjectRegExp: WORKFLOW_RE, issuer: 'https://i' }),
    'p.yaml',
    { hasTrustedRoot: true },
  )[0]!.rules[0]!;
  assert.equal(registryAccess(plain, [], 'team-b'), undefined);
  assert.deepEqual(registryAccess(plain, ['regcred'], 'team-b'), {
    secrets: [{ namespace: 'team-b', name: 'regcred' }],
  });
  // An empty imageRegistryCredentials still replaces the defaults (Kyverno: creds != nil).
  const empty = { ...plain, registryCredentials: { secrets: [] } };
  assert.deepEqual(registryAccess(empty, [], 'team-b'), { secrets: [] });
  const ivpol = parsePolicyText(
    `apiVersion: policies.kyverno.io/v1beta1
kind: ImageValidatingPolicy
metadata:
  name: iv
spec:
  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: [v1]
        operations: [CREATE]
        resources: [pods]
  matchImageReferences:
    - glob: "reg.example/*"
  credentials:
    secrets: [webhook-cred]
  attestors:
    - name: ci
      cosign:
        keyless:
          identities:
            - subjectRegExp: "${WORKFLOW_RE}"
              issuer: https://i
`,
    'iv.yaml',
    { hasTrustedRoot: true },
  )[0]!.rules[0]!;
  assert.deepEqual(registryAccess(ivpol, ['regcred'], 'team-b'), { secrets: [{ name: 'webhook-cred' }] });
  assert.deepEqual(
    extractPullSecrets('Deployment', {
      spec: { template: { spec: { imagePullSecrets: [{ name: 'a' }, { bogus: 1 }, { name: 'b' }] } } },
    }),
    ['a', 'b'],
  );
});
