import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { parseTrustedRoot } from '../../src/bundle/index.js';
import { parsePolicyText } from '../../src/admission/policy/index.js';
import { createAdmissionServer, type AdmissionServer } from '../../src/admission/server.js';
import { registryImageSource, SigstoreSignatureVerifier } from '../../src/admission/real-verifier.js';
import { RegistryClient, parseReference, pushImage, pushIndex, tinyImage } from '../../src/oci/index.js';
import { createRegistryServer } from '../../src/demo/registry/index.js';
import { signImageBundle } from '../../src/sign/index.js';
import { clusterPolicy, keylessBuilder, WORKFLOW_RE } from './helpers.js';
import { startDockerRegistry } from '../helpers/registry.js';
import { startStack, type Stack } from '../e2e/stack.js';
import { deployment, pod, postJson, review } from '../admission/helpers.js';

interface Answer {
  allowed: boolean;
  status?: { code: number; message: string };
  patch?: string;
}

/**
 * The seed's admission cases with cosign v3 signatures (bundle referrers): signed by CI-CD.yml
 * (admitted and pinned), unsigned, another workflow, moved tag, unsigned initContainer,
 * Deployment; an attestation that is not a signature; a multi-arch index whose linux/amd64
 * manifest is signed; a Windows-only index.
 */
async function seedCases(t: TestContext, stack: Stack, host: string): Promise<void> {
  const client = new RegistryClient();
  const signer = (overrides: Record<string, unknown> = {}) => keylessBuilder(stack, overrides);
  const push = (ref: string, seed: string): Promise<string> =>
    pushImage(client, parseReference(ref), tinyImage(seed));
  const sign = async (
    repo: string,
    digest: string,
    builder: Awaited<ReturnType<typeof signer>>,
    predicateType?: string,
  ) =>
    signImageBundle({
      client,
      image: parseReference(`${repo}@${digest}`),
      builder,
      ...(predicateType ? { predicateType } : {}),
    });
  const ci = await signer();
  const other = await signer({
    job_workflow_ref: 'org/repo/.github/workflows/other.yml@refs/heads/main',
    workflow_ref: 'org/repo/.github/workflows/other.yml@refs/heads/main',
  });
  const cart = await push(`${host}/org/rs-cart:v1`, 'v3 cart');
  await sign(`${host}/org/rs-cart`, cart, ci);
  await push(`${host}/org/rs-unsigned:v1`, 'v3 unsigned');
  await sign(`${host}/org/rs-other`, await push(`${host}/org/rs-other:v1`, 'v3 other'), other);
  await sign(`${host}/org/rs-moved`, await push(`${host}/org/rs-moved:v1`, 'v3 moved before'), ci);
  await push(`${host}/org/rs-moved:v1`, 'v3 moved after');
  await sign(
    `${host}/org/rs-attested`,
    await push(`${host}/org/rs-attested:v1`, 'v3 attested'),
    ci,
    'https://slsa.dev/provenance/v1',
  );
  const amd64 = tinyImage('v3 multi amd64');
  const arm64 = tinyImage('v3 multi arm64');
  await pushIndex(client, parseReference(`${host}/org/rs-multi:v1`), [
    { image: amd64, platform: { os: 'linux', architecture: 'amd64' } },
    { image: arm64, platform: { os: 'linux', architecture: 'arm64' } },
  ]);
  await sign(`${host}/org/rs-multi`, amd64.digest, ci);
  const win = tinyImage('v3 windows');
  const winIndex = await pushIndex(client, parseReference(`${host}/org/rs-windows:v1`), [
    { image: win, platform: { os: 'windows', architecture: 'amd64' } },
  ]);
  await sign(`${host}/org/rs-windows`, win.digest, ci);

  const policies = parsePolicyText(
    clusterPolicy([`${host}/org/rs-*`], {
      subjectRegExp: WORKFLOW_RE,
      issuer: stack.oidc.issuer,
      rekorUrl: stack.log.url,
    }),
    'policies.yaml',
    { hasTrustedRoot: true },
  );
  const s: AdmissionServer = await createAdmissionServer({
    policies,
    source: registryImageSource(new RegistryClient({ timeoutMs: 5000 })),
    verifier: new SigstoreSignatureVerifier(parseTrustedRoot(stack.trustedRootJson)),
    port: 0,
    failurePolicy: 'Fail',
    timeoutMs: 8000,
    logLevel: 'silent',
  });
  t.after(() => s.close());
  const admit = async (body: ReturnType<typeof review>): Promise<Answer> => {
    const r = await postJson(`${s.url}/mutate`, body, s.caPem!);
    assert.equal(r.status, 200, r.text);
    return (r.body as { response: Answer }).response;
  };
  const denied = async (name: string, images: string[], re: RegExp, init: string[] = []): Promise<void> => {
    const r = await admit(review('Pod', pod(name, images, init)));
    assert.equal(r.allowed, false, name);
    assert.match(r.status!.message, re, name);
  };

  const ok = await admit(review('Pod', pod('cart', [`${host}/org/rs-cart:v1`])));
  assert.equal(ok.allowed, true, ok.status?.message);
  assert.deepEqual(JSON.parse(Buffer.from(ok.patch!, 'base64').toString()), [
    { op: 'replace', path: '/spec/containers/0/image', value: `${host}/org/rs-cart:v1@${cart}` },
  ]);
  await denied(
    'unsigned',
    [`${host}/org/rs-unsigned:v1`],
    /rs-unsigned:v1: \.attestors\[0\]\.entries\[0\]\.keyless: no signatures found/,
  );
  await denied('other', [`${host}/org/rs-other:v1`], /subject mismatch: expected .*CI-CD.*other\.yml/);
  await denied('moved', [`${host}/org/rs-moved:v1`], /rs-moved:v1: .*no signatures found/);
  await denied('init', [`${host}/org/rs-cart:v1`], /rs-unsigned:v1: .*no signatures found/, [
    `${host}/org/rs-unsigned:v1`,
  ]);
  await denied(
    'attested',
    [`${host}/org/rs-attested:v1`],
    /predicate type is "https:\/\/slsa.dev\/provenance\/v1", not https:\/\/sigstore.dev\/cosign\/sign\/v1/,
  );
  const dep = await admit(review('Deployment', deployment('web', [`${host}/org/rs-cart:v1`])));
  assert.equal(dep.allowed, true, dep.status?.message);
  const multi = await admit(review('Pod', pod('multi', [`${host}/org/rs-multi:v1`])));
  assert.equal(multi.allowed, true, multi.status?.message);
  await denied(
    'windows',
    [`${host}/org/rs-windows:v1`],
    new RegExp(
      `image index .*@${winIndex} has no manifest for platform linux/amd64 \\(it has: windows/amd64\\)`,
    ),
  );

  // The same signatures under an ImageValidatingPolicy.
  const ivp: AdmissionServer = await createAdmissionServer({
    policies: parsePolicyText(
      `apiVersion: policies.kyverno.io/v1beta1
kind: ImageValidatingPolicy
metadata:
  name: verify-ci
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: [v1]
        operations: [CREATE]
        resources: [pods]
  matchImageReferences:
    - glob: "${host}/org/rs-*"
  attestors:
    - name: ci
      cosign:
        keyless:
          identities:
            - subjectRegExp: "${WORKFLOW_RE}"
              issuer: "${stack.oidc.issuer}"
`,
      'ivp.yaml',
      { hasTrustedRoot: true },
    ),
    source: registryImageSource(new RegistryClient({ timeoutMs: 5000 })),
    verifier: new SigstoreSignatureVerifier(parseTrustedRoot(stack.trustedRootJson)),
    port: 0,
    failurePolicy: 'Fail',
    timeoutMs: 8000,
    logLevel: 'silent',
  });
  t.after(() => ivp.close());
  const viaIvp = async (name: string, image: string): Promise<Answer> => {
    const r = await postJson(`${ivp.url}/mutate`, review('Pod', pod(name, [image])), ivp.caPem!);
    return (r.body as { response: Answer }).response;
  };
  const ivOk = await viaIvp('cart', `${host}/org/rs-cart:v1`);
  assert.equal(ivOk.allowed, true, ivOk.status?.message);
  const ivOther = await viaIvp('other', `${host}/org/rs-other:v1`);
  assert.equal(ivOther.allowed, false);
  assert.match(ivOther.status!.message, /subject mismatch/);
  const ivUnsigned = await viaIvp('unsigned', `${host}/org/rs-unsigned:v1`);
  assert.equal(ivUnsigned.allowed, false);
  assert.match(ivUnsigned.status!.message, /no signatures found/);
}

test('admission decides cosign v3 signatures on the embedded registry (referrers API): the seed cases, multi-arch, ImageValidatingPolicy', async (t) => {
  const stack = await startStack();
  const reg = await createRegistryServer({ port: 0, logLevel: 'silent' });
  t.after(async () => {
    await reg.close();
    await stack.close();
  });
  await seedCases(t, stack, reg.host);
});

test("admission decides cosign v3 signatures on Debian's docker-registry (fallback tag): the seed cases, multi-arch, ImageValidatingPolicy", async (t) => {
  const registry = await startDockerRegistry(t);
  if (!registry) return;
  const stack = await startStack();
  t.after(async () => {
    await stack.close();
    await registry.stop();
  });
  await seedCases(t, stack, registry.host);
});
