import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { parseTrustedRoot } from '../../src/bundle/index.js';
import { parsePolicyText } from '../../src/admission/policy/index.js';
import { AdmissionEngine } from '../../src/admission/engine.js';
import { registryImageSource, SigstoreSignatureVerifier } from '../../src/admission/real-verifier.js';
import {
  RegistryClient,
  parseReference,
  pushImage,
  staticCredentials,
  tinyImage,
} from '../../src/oci/index.js';
import { createRegistryServer } from '../../src/demo/registry/index.js';
import { signImageBundle } from '../../src/sign/index.js';
import { clusterPolicy, keylessBuilder, SIGN_PREDICATE, WORKFLOW_RE } from './helpers.js';
import { requireBinary } from '../helpers/env.js';
import { requireNode24, runNode24Json } from '../helpers/node24.js';
import { startDockerRegistry } from '../helpers/registry.js';
import { runSigilInProcess, startStack, type Stack } from '../e2e/stack.js';

const SAN = 'https://github.com/org/repo/.github/workflows/CI-CD.yml@refs/heads/main';
const USER = { username: 'ci', password: 'pw-for-oci' };

test('@sigstore/verify 4.x verifies the bundle layer sigil sign stored (read back from the registry); a tampered layer fails', async (t) => {
  if (!requireNode24(t)) return;
  const stack = await startStack();
  const reg = await createRegistryServer({ port: 0, logLevel: 'silent' });
  t.after(async () => {
    await reg.close();
    await stack.close();
  });
  const client = new RegistryClient();
  const ref = parseReference(`${reg.host}/org/judged:v1`);
  const digest = await pushImage(client, ref, tinyImage('judged'));
  const builder = await keylessBuilder(stack);
  const [r] = await signImageBundle({ client, image: ref.withDigest(digest), builder });
  const manifest = (await client.getManifest(ref.withDigest(r!.pushed.ref.digest!))).manifest as {
    layers: { digest: string }[];
  };
  const layer = await client.getBlob(ref, manifest.layers[0]!.digest);
  const judge = (bytes: Buffer) =>
    runNode24Json<{ ok: boolean; error?: string; payloadType?: string; san?: string }>(
      'oci-sigstore-verify-layer.mjs',
      {
        layer: bytes.toString('base64'),
        trustedRoot: stack.trustedRootJson,
        san: SAN,
        issuer: stack.oidc.issuer,
      },
    );
  const ok = await judge(layer);
  assert.deepEqual(ok, { ok: true, payloadType: 'application/vnd.in-toto+json', san: SAN });
  const doc = JSON.parse(layer.toString('utf8'));
  const sig = Buffer.from(doc.dsseEnvelope.signatures[0].sig, 'base64');
  sig[sig.length - 1] ^= 1;
  doc.dsseEnvelope.signatures[0].sig = sig.toString('base64');
  const bad = await judge(Buffer.from(JSON.stringify(doc)));
  assert.equal(bad.ok, false);
});

async function attachWithSigstoreJs(
  stack: Stack,
  host: string,
  repo: string,
  digest: string,
  predicateType: string,
) {
  const statement = JSON.stringify({
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: `${host}/${repo}`, digest: { sha256: digest.slice(7) } }],
    predicateType,
    predicate:
      predicateType === SIGN_PREDICATE ? {} : { buildDefinition: { buildType: 'https://example.com/ci' } },
  });
  return runNode24Json<{ descriptor: { digest: string } }>('oci-sigstore-attach.mjs', {
    imageName: `${host}/${repo}`,
    imageDigest: digest,
    statement,
    predicateType,
    fulcioURL: stack.ca.url,
    rekorURL: stack.log.url,
    token: await stack.oidc.mint(),
    credentials: USER,
  });
}

async function judgeRegistry(t: TestContext, stack: Stack, host: string, via: RegExp): Promise<void> {
  const client = new RegistryClient({ credentials: staticCredentials(USER, host) });
  const repo = 'org/attested';
  const digest = await pushImage(
    client,
    parseReference(`${host}/${repo}:v1`),
    tinyImage(`sigstore-js ${host}`),
  );
  const sig = await attachWithSigstoreJs(stack, host, repo, digest, SIGN_PREDICATE);
  const prov = await attachWithSigstoreJs(stack, host, repo, digest, 'https://slsa.dev/provenance/v1');
  const creds = ['--registry-username', USER.username, '--registry-password', USER.password];
  const trust = ['--trusted-root', stack.trustedRootPath];
  const identity = ['--certificate-identity', SAN, '--certificate-oidc-issuer', stack.oidc.issuer];

  const va = await runSigilInProcess([
    'verify-attestation',
    ...trust,
    ...identity,
    ...creds,
    '--type',
    'slsaprovenance1',
    `${host}/${repo}:v1`,
  ]);
  assert.equal(va.code, 0, va.stderr);
  const env = JSON.parse(va.stdout.trim().split('\n')[0]!);
  const st = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8'));
  assert.equal(st.predicateType, 'https://slsa.dev/provenance/v1');
  assert.equal(st.subject[0].digest.sha256, digest.slice(7));

  const v = await runSigilInProcess(['verify', ...trust, ...identity, ...creds, `${host}/${repo}:v1`]);
  assert.equal(v.code, 0, v.stderr);
  const out = JSON.parse(v.stdout);
  assert.equal(out.length, 1, 'only the sign/v1 statement counts as a signature');
  assert.equal(out[0].critical.type, SIGN_PREDICATE);

  const tree = await runSigilInProcess(['tree', ...creds, `${host}/${repo}:v1`]);
  assert.equal(tree.code, 0, tree.stderr);
  assert.match(tree.stdout, via);
  assert.ok(
    tree.stdout.includes(sig.descriptor.digest) && tree.stdout.includes(prov.descriptor.digest),
    tree.stdout,
  );
  assert.match(
    tree.stdout,
    /application\/vnd\.dev\.sigstore\.bundle\.v0\.3\+json, https:\/\/slsa\.dev\/provenance\/v1/,
  );

  // The webhook's engine, with the credentials, admits the image on the sigstore-js signature.
  const engine = new AdmissionEngine({
    policies: parsePolicyText(
      clusterPolicy([`${host}/org/*`], { subjectRegExp: WORKFLOW_RE, issuer: stack.oidc.issuer }),
      'p.yaml',
      { hasTrustedRoot: true },
    ),
    source: registryImageSource(client),
    verifier: new SigstoreSignatureVerifier(parseTrustedRoot(stack.trustedRootJson)),
    timeoutMs: 8000,
    excludedNamespaces: [],
  });
  const d = await engine.evaluate(
    {
      kind: 'Pod',
      namespace: 'default',
      name: 'attested',
      operation: 'CREATE',
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'attested' },
        spec: { containers: [{ name: 'c', image: `${host}/${repo}:v1` }] },
      },
    },
    'mutate',
  );
  assert.equal(d.allowed, true, d.message);
  void t;
}

test('@sigstore/oci 0.7 (Node 24) attaches @sigstore/sign bundles in the embedded registry (referrers API): sigil verify-attestation, verify, tree and the webhook find and verify them', async (t) => {
  if (!requireNode24(t)) return;
  const stack = await startStack();
  const reg = await createRegistryServer({ port: 0, logLevel: 'silent', auth: USER });
  t.after(async () => {
    await reg.close();
    await stack.close();
  });
  await judgeRegistry(t, stack, reg.host, /OCI referrers \(referrers API\)/);
});

test("@sigstore/oci 0.7 (Node 24) attaches @sigstore/sign bundles in Debian's docker-registry (fallback tag): sigil finds and verifies them", async (t) => {
  if (!requireNode24(t) || !requireBinary(t, 'htpasswd')) return;
  const dir = mkdtempSync(join(tmpdir(), 'sigil-oci-judge-'));
  const htpasswd = join(dir, 'htpasswd');
  writeFileSync(htpasswd, execFileSync('htpasswd', ['-Bbn', USER.username, USER.password]));
  const registry = await startDockerRegistry(t, { htpasswd });
  if (!registry) return rmSync(dir, { recursive: true, force: true });
  const stack = await startStack();
  t.after(async () => {
    await stack.close();
    await registry.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await judgeRegistry(t, stack, registry.host, /OCI referrers \(fallback tag sha256-[0-9a-f]{64}\)/);
});
