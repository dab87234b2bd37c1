import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDockerRegistry } from '../helpers/registry.js';
import { requireBinary } from '../helpers/env.js';
import { RegistryClient, parseReference, pushImage, tinyImage } from '../../src/oci/index.js';
import { skopeo, skopeoEnv } from '../oci/skopeo.js';
import { runSigilInProcess as sigil, startStack } from './stack.js';

const WORKFLOW_RE = '^https://github.com/org/repo/.github/workflows/CI-CD.yml@.*';

test('legacy layout (--legacy-layout): attest + verify-attestation, sign --key + verify --key, tree, and a skopeo copy that still verifies', async (t) => {
  const registry = await startDockerRegistry(t);
  if (!registry) return;
  const stack = await startStack();
  const dir = mkdtempSync(join(tmpdir(), 'sigil-e2e-att-'));
  t.after(async () => {
    await stack.close();
    await registry.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const client = new RegistryClient();
  const repo = `${registry.host}/org/rs-web`;
  const digest = await pushImage(client, parseReference(`${repo}:v1`), tinyImage('rs-web'));
  const urls = ['--fulcio-url', stack.ca.url, '--rekor-url', stack.log.url];
  const policy = [
    '--trusted-root',
    stack.trustedRootPath,
    '--certificate-identity-regexp',
    WORKFLOW_RE,
    '--certificate-oidc-issuer',
    stack.oidc.issuer,
  ];

  // Signing by tag: resolved to the digest, with the warning.
  const s = await sigil([
    'sign',
    '--legacy-layout',
    '--yes',
    ...urls,
    '--identity-token',
    await stack.oidc.mint(),
    `${repo}:v1`,
  ]);
  assert.equal(s.code, 0, s.stderr);
  assert.match(
    s.stderr,
    new RegExp(`uses a tag, not a digest[\\s\\S]*${digest}, and that digest is what gets signed`),
  );
  // A second keyless signature accumulates as a second layer.
  const s2 = await sigil([
    'sign',
    '--legacy-layout',
    '--yes',
    ...urls,
    '--identity-token',
    await stack.oidc.mint(),
    `${repo}@${digest}`,
  ]);
  assert.match(s2.stderr, /\(2 signature\(s\)\)/);

  // Attestation.
  const predicate = join(dir, 'provenance.json');
  writeFileSync(
    predicate,
    JSON.stringify({
      builder: { id: 'https://github.com/org/repo/.github/workflows/CI-CD.yml' },
      buildType: 'x',
    }),
  );
  const a = await sigil([
    'attest',
    '--legacy-layout',
    '--yes',
    ...urls,
    '--identity-token',
    await stack.oidc.mint(),
    '--predicate',
    predicate,
    '--type',
    'slsaprovenance',
    `${repo}@${digest}`,
  ]);
  assert.equal(a.code, 0, a.stderr);
  const va = await sigil(['verify-attestation', ...policy, '--type', 'slsaprovenance', `${repo}:v1`]);
  assert.equal(va.code, 0, va.stderr);
  const env = JSON.parse(va.stdout.trim().split('\n')[0]!);
  assert.equal(env.payloadType, 'application/vnd.in-toto+json');
  const statement = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8'));
  assert.equal(statement.predicateType, 'https://slsa.dev/provenance/v0.2');
  assert.equal(statement.subject[0].digest.sha256, digest.slice(7));
  assert.equal(statement.predicate.buildType, 'x');
  const wrongType = await sigil(['verify-attestation', ...policy, '--type', 'cyclonedx', `${repo}:v1`]);
  assert.equal(wrongType.code, 1);
  assert.match(
    wrongType.stderr,
    /predicate type is "https:\/\/slsa.dev\/provenance\/v0.2", not https:\/\/cyclonedx.org\/bom/,
  );

  // Key-based signing of another image.
  const keyed = `${registry.host}/org/rs-keyed`;
  const kd = await pushImage(client, parseReference(`${keyed}:v1`), tinyImage('rs-keyed'));
  process.env.SIGIL_PASSWORD = 'pw';
  t.after(() => delete process.env.SIGIL_PASSWORD);
  assert.equal((await sigil(['generate-key-pair', '--output-key-prefix', join(dir, 'cosign')])).code, 0);
  const ks = await sigil([
    'sign',
    '--legacy-layout',
    '--yes',
    '--key',
    join(dir, 'cosign.key'),
    '--rekor-url',
    stack.log.url,
    `${keyed}@${kd}`,
  ]);
  assert.equal(ks.code, 0, ks.stderr);
  const kv = await sigil([
    'verify',
    '--key',
    join(dir, 'cosign.pub'),
    '--trusted-root',
    stack.trustedRootPath,
    `${keyed}:v1`,
  ]);
  assert.equal(kv.code, 0, kv.stderr);
  assert.match(kv.stderr, /verified against the specified public key/);
  assert.equal(JSON.parse(kv.stdout)[0].critical.image['docker-manifest-digest'], kd);
  const otherKey = await sigil(['generate-key-pair', '--output-key-prefix', join(dir, 'other')]);
  assert.equal(otherKey.code, 0);
  const kbad = await sigil([
    'verify',
    '--key',
    join(dir, 'other.pub'),
    '--trusted-root',
    stack.trustedRootPath,
    `${keyed}:v1`,
  ]);
  assert.equal(kbad.code, 1);
  assert.match(kbad.stderr, /^sigil: error: no matching signatures/m);
  // A keyless policy does not accept the key-signed image.
  assert.equal((await sigil(['verify', ...policy, `${keyed}:v1`])).code, 1);

  // tree shows both kinds of attachment.
  const tree = await sigil(['tree', `${repo}:v1`]);
  assert.equal(tree.code, 0, tree.stderr);
  assert.match(
    tree.stdout,
    /Signatures for an image tag: .*\.sig\n {3}└── sha256:[0-9a-f]{64}\n {3}└── sha256:/,
  );
  assert.match(tree.stdout, /Attestations for an image tag: .*\.att/);

  // skopeo with use-sigstore-attachments copies the image and its signatures to another repository.
  if (!requireBinary(t, 'skopeo')) return;
  const sk = skopeoEnv();
  t.after(() => rmSync(sk.dir, { recursive: true, force: true }));
  const copy = `${registry.host}/mirror/rs-web`;
  await skopeo(sk.args, [
    'copy',
    '--src-tls-verify=false',
    '--dest-tls-verify=false',
    `docker://${repo}@${digest}`,
    `docker://${copy}:v1`,
  ]);
  const vc = await sigil(['verify', ...policy, `${copy}:v1`]);
  assert.equal(vc.code, 0, vc.stderr);
  const out = JSON.parse(vc.stdout) as { critical: { image: Record<string, string> } }[];
  assert.equal(out.length, 2, 'both signatures came along');
  assert.equal(out[0]!.critical.image['docker-manifest-digest'], digest);
});
