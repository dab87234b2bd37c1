import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { RegistryClient, parseReference, pushImage, tinyImage } from '../../../src/oci/index.js';
import { createRegistryServer } from '../../../src/demo/registry/index.js';
import { attestImage, createSigning, resolveImage, signImage } from '../../../src/sign/index.js';
import { runSigil, startStack } from '../../e2e/stack.js';
import { seedAttestor, seedClusterPolicy } from './seed-policies.js';

const SLSA = 'https://slsa.dev/provenance/v1';

const pod = (name: string, image: string, namespace = 'default') => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  containers:
    - name: app
      image: ${image}
`;

/**
 * The image-verification examples of Kyverno's ImageValidatingPolicy docs (keyless identities,
 * a public key, an attestation read with extractPayload, glob and expression matchers, Audit
 * and Warn, a namespaced policy) and the seed's ClusterPolicy, as kyverno-test.yaml suites run
 * by `sigil policy test` offline: the images and signatures were saved by a sigil registry that
 * is stopped before the suite runs.
 */
test('sigil policy test runs kyverno-test.yaml suites offline from saved signatures', async (t) => {
  const stack = await startStack();
  const dataDir = mkdtempSync(join(tmpdir(), 'sigil-kt-registry-'));
  const registry = await createRegistryServer({ dataDir, host: '127.0.0.1', port: 0, logLevel: 'silent' });
  let registryOpen = true;
  t.after(async () => {
    if (registryOpen) await registry.close();
    await stack.close();
  });
  const host = registry.host;
  const client = new RegistryClient();
  const push = (ref: string, seed: string) => pushImage(client, parseReference(ref), tinyImage(seed));
  const ci = createSigning({
    key: { kind: 'keyless', caUrl: stack.ca.url, tokens: { token: await stack.oidc.mint(), env: {} } },
    logUrl: stack.log.url,
  }).builder;
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keySigner = createSigning({
    key: { kind: 'key-file', privateKey: keys.privateKey, publicKey: keys.publicKey },
    logUrl: stack.log.url,
  }).builder;
  const signed = await push(`${host}/team/app:v1`, 'keyless signed');
  await signImage({
    client,
    image: await resolveImage(client, parseReference(`${host}/team/app@${signed}`)),
    builder: ci,
  });
  await attestImage({
    client,
    image: await resolveImage(client, parseReference(`${host}/team/app@${signed}`)),
    builder: ci,
    predicateType: SLSA,
    predicate: { buildDefinition: { buildType: 'https://actions.github.io/buildtypes/workflow/v1' } },
  });
  const keyed = await push(`${host}/team/keyed:v1`, 'key signed');
  await signImage({
    client,
    image: await resolveImage(client, parseReference(`${host}/team/keyed@${keyed}`)),
    builder: keySigner,
  });
  await push(`${host}/team/unsigned:v1`, 'unsigned');
  await registry.close(); // from here on the suite has no registry but the saved directory
  registryOpen = false;

  const dir = mkdtempSync(join(tmpdir(), 'sigil-kt-suite-'));
  // The `- name: ci` keyless attestor entry (seedAttestor without its `attestors:` line).
  const keyless = seedAttestor({ issuer: stack.oidc.issuer, logUrl: stack.log.url })
    .split('\n')
    .slice(1, -1)
    .join('\n');
  const ivp = (
    name: string,
    body: string,
    kind = 'ImageValidatingPolicy',
    extra = '',
  ) => `apiVersion: policies.kyverno.io/v1
kind: ${kind}
metadata:
  name: ${name}
${kind === 'NamespacedImageValidatingPolicy' ? '  namespace: team-a\n' : ''}spec:
${extra}  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: ["v1"]
        operations: ["CREATE"]
        resources: ["pods"]
${body}`;
  const sigCheck = (attestor: string) => `  validations:
    - expression: "images.containers.map(i, verifyImageSignatures(i, [attestors.${attestor}])).all(e, e > 0)"
      message: failed to verify image signatures
`;
  const write = (name: string, text: string) => writeFileSync(join(dir, name), text);
  write(
    'policies.yaml',
    [
      ivp(
        'keyless',
        `  matchImageReferences:\n    - glob: "${host}/team/*"\n  attestors:\n${keyless}\n${sigCheck('ci')}`,
      ),
      ivp(
        'public-key',
        `  matchImageReferences:\n    - expression: "ref.startsWith('${host}/team/')"\n  attestors:\n    - name: key\n      cosign:\n        key:\n          data: |\n${keys.publicKey
          .export({ type: 'spki', format: 'pem' })
          .toString()
          .trim()
          .split('\n')
          .map((l) => `            ${l}`)
          .join('\n')}\n        ctlog:\n          url: ${stack.log.url}\n${sigCheck('key')}`,
      ),
      ivp(
        'slsa',
        `  matchImageReferences:\n    - glob: "${host}/team/app*"\n  attestors:\n${keyless}\n  attestations:\n    - name: slsa\n      intoto:\n        type: ${SLSA}\n  validations:\n    - expression: "images.containers.map(i, verifyAttestationSignatures(i, attestations.slsa, [attestors.ci])).all(e, e > 0)"\n    - expression: "images.containers.all(i, extractPayload(i, attestations.slsa).predicate.buildDefinition.buildType == 'https://actions.github.io/buildtypes/workflow/v1')"\n`,
      ),
      ivp(
        'warn',
        `  matchImageReferences:\n    - glob: "${host}/*"\n  attestors:\n${keyless}\n${sigCheck('ci')}`,
        'ImageValidatingPolicy',
        '  validationActions: [Warn]\n',
      ),
      ivp(
        'audit',
        `  matchImageReferences:\n    - glob: "${host}/*"\n  attestors:\n${keyless}\n${sigCheck('ci')}`,
        'ImageValidatingPolicy',
        '  validationActions: [Audit]\n',
      ),
      ivp(
        'team-a-only',
        `  matchImageReferences:\n    - glob: "${host}/*"\n  attestors:\n${keyless}\n${sigCheck('ci')}`,
        'NamespacedImageValidatingPolicy',
      ),
    ].join('---\n'),
  );
  write(
    'cpol.yaml',
    seedClusterPolicy(
      `${host}/team/*`,
      { issuer: stack.oidc.issuer, logUrl: stack.log.url },
      { mutateDigest: false, verifyDigest: false },
    ),
  );
  write(
    'resources.yaml',
    [
      pod('good', `${host}/team/app:v1`),
      pod('keyed', `${host}/team/keyed:v1`),
      pod('bad', `${host}/team/unsigned:v1`),
      pod('bad-a', `${host}/team/unsigned:v1`, 'team-a'),
    ].join('---\n'),
  );
  const manifest = (
    results: string,
    policies = '[policies.yaml, cpol.yaml]',
  ) => `apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: docs-examples
policies: ${policies}
resources: [resources.yaml]
results:
${results}`;
  const r = (policy: string, resources: string[], result: string, rule?: string) =>
    `  - policy: ${policy}\n${rule ? `    rule: ${rule}\n` : ''}    resources: [${resources.join(', ')}]\n    kind: Pod\n    result: ${result}\n`;
  mkdirSync(join(dir, 'ok'));
  const expected = [
    r('keyless', ['good'], 'pass'),
    r('keyless', ['keyed', 'bad'], 'fail'),
    r('public-key', ['keyed'], 'pass'),
    r('public-key', ['good', 'bad'], 'fail'),
    r('slsa', ['good'], 'pass'),
    r('slsa', ['keyed', 'bad'], 'pass'), // no image matches: nothing to verify
    r('warn', ['bad'], 'warn'),
    r('audit', ['bad'], 'fail'),
    r('team-a/team-a-only', ['team-a/bad-a'], 'fail'),
    r('team-a-only', ['good', 'bad'], 'skip'),
    r('check-images', ['good'], 'pass', 'check-signature'),
    r('check-images', ['bad', 'keyed'], 'fail', 'check-signature'),
  ].join('');
  writeFileSync(
    join(dir, 'ok', 'kyverno-test.yaml'),
    manifest(expected, '[../policies.yaml, ../cpol.yaml]').replace('[resources.yaml]', '[../resources.yaml]'),
  );
  const args = (p: string) => [
    'policy',
    'test',
    p,
    '--registry-dir',
    dataDir,
    '--trusted-root',
    stack.trustedRootPath,
  ];

  const ok = await runSigil(args(dir), {}, 120_000);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /Test Summary: 17 tests passed and 0 tests failed/);
  assert.match(
    ok.stderr,
    /ClusterPolicy check-images: kyverno\.io\/v1 verifyImages is deprecated since Kyverno 1\.17/,
  );
  assert.equal(ok.stderr.match(/deprecated/g)?.length, 1, 'one deprecation line');

  // A suite whose expectation is wrong fails, naming the row.
  writeFileSync(join(dir, 'kyverno-test.yaml'), manifest(r('keyless', ['bad'], 'pass')));
  const wrong = await runSigil(args(join(dir, 'kyverno-test.yaml')), {}, 120_000);
  assert.equal(wrong.code, 1, wrong.stdout + wrong.stderr);
  assert.match(wrong.stdout, /keyless {2}keyless {2}bad {2}Fail {2}Want pass, got fail/);
  assert.match(wrong.stdout, /Test Summary: 0 tests passed and 1 tests failed/);
});
