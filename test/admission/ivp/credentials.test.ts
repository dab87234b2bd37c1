import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  RegistryClient,
  parseReference,
  pushImage,
  staticCredentials,
  tinyImage,
} from '../../../src/oci/index.js';
import { resolveImage, signImage } from '../../../src/sign/index.js';
import { requireBinary } from '../../helpers/env.js';
import { startDockerRegistry } from '../../helpers/registry.js';
import { runSigilInProcess, startStack } from '../../e2e/stack.js';
import { keylessBuilder } from '../../oci/helpers.js';
import { seedAttestor } from './seed-policies.js';
import { ivpHead } from './testbed.js';

/**
 * `credentials.secrets` of a CEL ImageValidatingPolicy (Kyverno: secrets of its own namespace,
 * used instead of the default credentials): offline, the secrets are the pull secrets mounted
 * under `--registry-credentials DIR` (DIR/<name>), as for ClusterPolicy (issue 18). A private
 * basic-auth docker-registry is reached only through the named, mounted secret.
 */
test('IVP credentials.secrets: a private registry reached through the named mounted secret only', async (t) => {
  if (!requireBinary(t, 'htpasswd')) return;
  const dir = mkdtempSync(join(tmpdir(), 'sigil-ivp-creds-'));
  const htpasswd = join(dir, 'htpasswd');
  writeFileSync(htpasswd, execFileSync('htpasswd', ['-Bbn', 'puller', 's3cret-pw']));
  const registry = await startDockerRegistry(t, { htpasswd });
  if (!registry) return;
  const stack = await startStack();
  t.after(async () => {
    await stack.close();
    await registry.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const client = new RegistryClient({
    credentials: staticCredentials({ username: 'puller', password: 's3cret-pw' }, registry.host),
  });
  const ref = parseReference(`${registry.host}/org/private:v1`);
  const digest = await pushImage(client, ref, tinyImage('private ivp'));
  await signImage({
    client,
    image: await resolveImage(client, ref.withDigest(digest)),
    builder: await keylessBuilder(stack),
  });

  const secrets = join(dir, 'secrets');
  mkdirSync(join(secrets, 'webhook-cred'), { recursive: true });
  writeFileSync(
    join(secrets, 'webhook-cred', '.dockerconfigjson'),
    JSON.stringify({
      auths: { [registry.host]: { auth: Buffer.from('puller:s3cret-pw').toString('base64') } },
    }),
  );
  const policy = (name: string, creds: string) => {
    const p = join(dir, `${name}.yaml`);
    writeFileSync(
      p,
      `${ivpHead(name)}  matchImageReferences:
    - glob: "${registry.host}/org/*"
${creds}${seedAttestor({ issuer: stack.oidc.issuer, logUrl: stack.log.url })}  validations:
    - expression: "images.containers.map(i, verifyImageSignatures(i, [attestors.ci])).all(e, e > 0)"
      message: unsigned
`,
    );
    return p;
  };
  const podFile = join(dir, 'pod.yaml');
  writeFileSync(
    podFile,
    `apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: default\nspec:\n  imagePullSecrets:\n    - name: webhook-cred\n  containers:\n    - name: c\n      image: ${registry.host}/org/private:v1\n`,
  );
  const run = (policyFile: string) =>
    runSigilInProcess([
      'admission',
      'test',
      '--policy',
      policyFile,
      '--trusted-root',
      stack.trustedRootPath,
      '--registry-credentials',
      secrets,
      '--resource',
      podFile,
    ]);
  const named = await run(policy('named', '  credentials:\n    secrets: [webhook-cred]\n'));
  assert.equal(named.code, 0, named.stderr);
  assert.match(named.stdout, new RegExp(`org/private:v1@${digest}`), 'verified and pinned');
  // Kyverno's IVP never uses the pod's imagePullSecrets: without credentials the default
  // (anonymous) access is refused by the registry, an error under failurePolicy Fail.
  const none = await run(policy('none', ''));
  assert.equal(none.code, 1);
  assert.match(none.stderr, /requires credentials/);
  const missing = await run(policy('missing', '  credentials:\n    secrets: [not-mounted]\n'));
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /not mounted: not-mounted/);
});
