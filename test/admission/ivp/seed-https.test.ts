import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTrustedRoot } from '../../../src/bundle/index.js';
import type { AdmissionServer } from '../../../src/admission/server.js';
import { parseReference } from '../../../src/oci/index.js';
import { attestImage, resolveImage } from '../../../src/sign/index.js';
import { deployment, pod, postJson, review, webhookTestbed } from '../helpers.js';
import { seedAttestor, seedClusterPolicy, seedIvp } from './seed-policies.js';
import { admissionFor, MATCH_PODS } from './testbed.js';

const SLSA = 'https://slsa.dev/provenance/v1';

interface Answer {
  uid: string;
  allowed: boolean;
  status?: { code: number; message: string };
  warnings?: string[];
  patch?: string;
}

test("the seed's cases are decided alike by its ClusterPolicy and its ImageValidatingPolicy, over HTTPS", async (t) => {
  const bed = await webhookTestbed(t);
  if (!bed) return;
  const { stack, servers, client, host, push, signer, sign } = bed;
  const ci = await signer();
  const cartDigest = await push(`${host}/org/rs-cart:v1`, 'cart v1');
  await sign(`${host}/org/rs-cart@${cartDigest}`, ci);
  await push(`${host}/org/rs-unsigned:v1`, 'unsigned');
  const other = await signer({
    job_workflow_ref: 'org/repo/.github/workflows/other.yml@refs/heads/main',
    workflow_ref: 'org/repo/.github/workflows/other.yml@refs/heads/main',
  });
  await push(`${host}/org/rs-other:v1`, 'other workflow');
  await sign(`${host}/org/rs-other:v1`, other);
  await push(`${host}/org/rs-moved:v1`, 'moved before');
  await sign(`${host}/org/rs-moved:v1`, ci);
  await push(`${host}/org/rs-moved:v1`, 'moved after');
  const attDigest = await push(`${host}/org/rs-att:v1`, 'attested');
  await sign(`${host}/org/rs-att@${attDigest}`, ci);
  await attestImage({
    client,
    image: await resolveImage(client, parseReference(`${host}/org/rs-att@${attDigest}`)),
    builder: ci,
    predicateType: SLSA,
    predicate: { buildDefinition: { buildType: 'https://actions.github.io/buildtypes/workflow/v1' } },
  });

  const id = { issuer: stack.oidc.issuer, logUrl: stack.log.url };
  const cpol = seedClusterPolicy(`${host}/org/rs-*`, id);
  const attestor = seedAttestor(id);
  const ivpol = seedIvp(`${host}/org/rs-*`, id);
  const root = parseTrustedRoot(stack.trustedRootJson);
  const { make } = admissionFor(servers, root, 5000);
  const cp = await make(cpol);
  const iv = await make(ivpol);
  const admit = async (
    s: AdmissionServer,
    path: string,
    body: ReturnType<typeof review>,
  ): Promise<Answer> => {
    const r = await postJson(`${s.url}${path}`, body, s.caPem!);
    assert.equal(r.status, 200, r.text);
    return (r.body as { response: Answer }).response;
  };
  const patchOf = (a: Answer): unknown =>
    a.patch ? JSON.parse(Buffer.from(a.patch, 'base64').toString()) : [];
  const both = async (kind: string, object: Record<string, unknown>) => {
    const [a, b] = [
      await admit(cp, '/mutate', review(kind, object)),
      await admit(iv, '/mutate', review(kind, object)),
    ];
    assert.equal(
      b.allowed,
      a.allowed,
      `IVP ${b.status?.message ?? ''} vs ClusterPolicy ${a.status?.message ?? ''}`,
    );
    assert.deepEqual(patchOf(b), patchOf(a), 'same digest pins');
    return { cp: a, ivp: b };
  };
  const pin = `${host}/org/rs-cart:v1@${cartDigest}`;

  await t.test('admitted and pinned', async () => {
    const { ivp } = await both('Pod', pod('cart', [`${host}/org/rs-cart:v1`]));
    assert.equal(ivp.allowed, true);
    assert.deepEqual(patchOf(ivp), [{ op: 'replace', path: '/spec/containers/0/image', value: pin }]);
    // The validating pass: the pinned image passes; a bare tag fails verifyDigest (default true).
    assert.equal((await admit(iv, '/validate', review('Pod', pod('cart', [pin])))).allowed, true);
    const bare = await admit(iv, '/validate', review('Pod', pod('cart', [`${host}/org/rs-cart:v1`])));
    assert.equal(bare.allowed, false);
    assert.equal(
      bare.status!.message,
      `Policy check-images failed: image ${host}/org/rs-cart:v1 does not have a digest`,
    );
  });
  await t.test('unsigned', async () => {
    const { ivp } = await both('Pod', pod('unsigned', [`${host}/org/rs-unsigned:v1`]));
    assert.equal(ivp.allowed, false);
    assert.equal(ivp.status!.message, 'Policy check-images failed: failed to verify image signatures');
  });
  await t.test('other workflow', async () => {
    assert.equal((await both('Pod', pod('other', [`${host}/org/rs-other:v1`]))).ivp.allowed, false);
  });
  await t.test('moved tag', async () => {
    assert.equal((await both('Pod', pod('moved', [`${host}/org/rs-moved:v1`]))).ivp.allowed, false);
  });
  await t.test('unsigned initContainer', async () => {
    const r = await both('Pod', pod('init', [`${host}/org/rs-cart:v1`], [`${host}/org/rs-unsigned:v1`]));
    assert.equal(r.ivp.allowed, false);
  });
  await t.test('Deployment via autogen', async () => {
    const good = await both('Deployment', deployment('web', [`${host}/org/rs-cart:v1`]));
    assert.equal(good.ivp.allowed, true);
    assert.deepEqual(patchOf(good.ivp), [
      { op: 'replace', path: '/spec/template/spec/containers/0/image', value: pin },
    ]);
    assert.equal(
      (await both('Deployment', deployment('bad', [`${host}/org/rs-unsigned:v1`]))).ivp.allowed,
      false,
    );
  });

  await t.test(
    'docs: an attestation checked with extractPayload, Warn and Audit actions, an expression matcher',
    async () => {
      const att = (
        name: string,
        actions: string,
        predicateCheck: string,
        match = `- glob: "${host}/org/rs-*"`,
      ) => `apiVersion: policies.kyverno.io/v1
kind: ImageValidatingPolicy
metadata:
  name: ${name}
spec:
  validationActions: [${actions}]
${MATCH_PODS}  matchImageReferences:
    ${match}
${attestor}  attestations:
    - name: slsa
      intoto:
        type: ${SLSA}
  validations:
    - expression: >-
        images.containers.map(i, verifyAttestationSignatures(i, attestations.slsa, [attestors.ci])).all(e, e > 0)
      message: missing SLSA provenance
    - expression: >-
        images.containers.all(i, ${predicateCheck})
      messageExpression: "'unexpected build type in ' + images.containers[0]"
`;
      const s = await make(
        [
          att(
            'slsa-deny',
            'Deny',
            "extractPayload(i, attestations.slsa).predicate.buildDefinition.buildType == 'https://actions.github.io/buildtypes/workflow/v1'",
          ),
          att(
            'slsa-warn',
            'Warn',
            "extractPayload(i, attestations.slsa).predicate.buildDefinition.buildType == 'other'",
            `- expression: "ref.endsWith('/org/rs-att@${attDigest}')"`,
          ),
          att('slsa-audit', 'Audit', 'false'),
        ].join('---\n'),
      );
      const ok = await admit(s, '/validate', review('Pod', pod('att', [`${host}/org/rs-att@${attDigest}`])));
      assert.equal(ok.allowed, true, ok.status?.message);
      assert.deepEqual(ok.warnings, [
        `Policy slsa-warn failed: unexpected build type in ${host}/org/rs-att@${attDigest}`,
      ]);
      const bad = await admit(s, '/validate', review('Pod', pod('cart', [pin])));
      assert.equal(bad.allowed, false);
      assert.equal(bad.status!.message, 'Policy slsa-deny failed: missing SLSA provenance');
      assert.equal(
        bad.warnings,
        undefined,
        'the Warn policy matches only rs-att by expression; Audit only reports',
      );
    },
  );
});
