import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTrustedRoot } from '../../src/bundle/index.js';
import { parsePolicyText } from '../../src/admission/policy/index.js';
import { createAdmissionServer, type AdmissionServer } from '../../src/admission/server.js';
import { registryImageSource, SigstoreSignatureVerifier } from '../../src/admission/real-verifier.js';
import { RegistryClient, parseReference } from '../../src/oci/index.js';
import { freePort, startDockerRegistry } from '../helpers/registry.js';
import { startStack } from '../e2e/stack.js';
import { blackHole, deployment, getText, imageTools, pod, postJson, review } from './helpers.js';

const WORKFLOW_RE = '^https://github.com/org/repo/.github/workflows/CI-CD.yml@.*';

interface Answer {
  uid: string;
  allowed: boolean;
  status?: { code: number; message: string };
  warnings?: string[];
  patchType?: string;
  patch?: string;
}

test('admission webhook over HTTPS with a real registry, CA, log and signatures', async (t) => {
  const registry = await startDockerRegistry(t);
  if (!registry) return;
  const stack = await startStack();
  const hole = await blackHole();
  const refused = `127.0.0.1:${await freePort()}`;
  const servers: AdmissionServer[] = [];
  t.after(async () => {
    for (const s of servers) await s.close();
    await hole.close();
    await stack.close();
    await registry.stop();
  });

  // --- images: signed by the CI-CD workflow, unsigned, signed by another workflow, tag moved after signing.
  const client = new RegistryClient();
  const host = registry.host;
  const { push, signer, sign } = imageTools(stack, client);
  const ci = await signer();
  const cartDigest = await push(`${host}/org/rs-cart:v1`, 'cart v1');
  await sign(`${host}/org/rs-cart@${cartDigest}`, ci);
  const unsignedDigest = await push(`${host}/org/rs-unsigned:v1`, 'unsigned');
  await push(`${host}/org/rs-cart:other`, 'cart other unsigned');
  const cartOtherDigest = (await client.getManifest(parseReference(`${host}/org/rs-cart:other`))).digest;
  const otherWorkflow = await signer({
    job_workflow_ref: 'org/repo/.github/workflows/other.yml@refs/heads/main',
    workflow_ref: 'org/repo/.github/workflows/other.yml@refs/heads/main',
  });
  await push(`${host}/org/rs-other:v1`, 'other workflow');
  await sign(`${host}/org/rs-other:v1`, otherWorkflow);
  await push(`${host}/org/rs-moved:v1`, 'moved before');
  await sign(`${host}/org/rs-moved:v1`, ci);
  await push(`${host}/org/rs-moved:v1`, 'moved after'); // the tag now names unsigned content
  await push(`${host}/audit/app:v1`, 'audit unsigned');
  await push(`${host}/outside/app:v1`, 'outside');

  // --- the seed's ClusterPolicy, plus an Audit policy.
  const policyYaml = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: check-images
spec:
  webhookConfiguration:
    timeoutSeconds: 10
  rules:
    - name: check-signature
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
        - imageReferences:
            - "${host}/org/rs-*"
            - "${refused}/org/rs-*"
            - "${hole.host}/org/rs-*"
          failureAction: Enforce
          attestors:
            - entries:
                - keyless:
                    subjectRegExp: "${WORKFLOW_RE}"
                    issuer: "${stack.oidc.issuer}"
                    rekor:
                      url: ${stack.log.url}
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: audit-images
spec:
  rules:
    - name: audit-signature
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
        - imageReferences: ["${host}/audit/*"]
          failureAction: Audit
          mutateDigest: false
          attestors:
            - entries:
                - keyless:
                    subjectRegExp: "${WORKFLOW_RE}"
                    issuer: "${stack.oidc.issuer}"
`;
  const policies = parsePolicyText(policyYaml, 'policies.yaml', { hasTrustedRoot: true });
  const root = parseTrustedRoot(stack.trustedRootJson);
  const make = async (failurePolicy: 'Fail' | 'Ignore'): Promise<AdmissionServer> => {
    const s = await createAdmissionServer({
      policies,
      source: registryImageSource(new RegistryClient({ timeoutMs: 5000 })),
      verifier: new SigstoreSignatureVerifier(root),
      port: 0,
      failurePolicy,
      timeoutMs: 2000,
      logLevel: 'silent',
    });
    servers.push(s);
    return s;
  };
  const fail = await make('Fail');
  const ignore = await make('Ignore');
  assert.ok(fail.caBundle && fail.caPem);
  assert.equal(Buffer.from(fail.caBundle, 'base64').toString(), fail.caPem);

  const admit = async (
    s: AdmissionServer,
    path: '/validate' | '/mutate',
    body: ReturnType<typeof review>,
  ): Promise<Answer> => {
    const r = await postJson(`${s.url}${path}`, body, s.caPem!);
    assert.equal(r.status, 200, r.text);
    const out = r.body as { apiVersion: string; kind: string; response: Answer };
    assert.equal(out.apiVersion, 'admission.k8s.io/v1');
    assert.equal(out.kind, 'AdmissionReview');
    assert.equal(out.response.uid, body.request.uid, 'uid echoed');
    return out.response;
  };
  const blocked = (kind: string, name: string, lines: string[]): string =>
    `\n\nresource ${kind}/default/${name} was blocked due to the following policies \n\n${lines.join('\n')}\n`;

  await t.test(
    'a pod whose tag was signed by the CI-CD workflow is admitted and pinned to the verified digest',
    async () => {
      const r = await admit(fail, '/mutate', review('Pod', pod('cart', [`${host}/org/rs-cart:v1`])));
      assert.equal(r.allowed, true, r.status?.message);
      assert.equal(r.patchType, 'JSONPatch');
      assert.deepEqual(JSON.parse(Buffer.from(r.patch!, 'base64').toString()), [
        { op: 'replace', path: '/spec/containers/0/image', value: `${host}/org/rs-cart:v1@${cartDigest}` },
      ]);
      // validate: the pinned form passes; the bare tag is refused (verifyDigest), like Kyverno's validating webhook.
      assert.equal(
        (await admit(fail, '/validate', review('Pod', pod('cart', [`${host}/org/rs-cart:v1@${cartDigest}`]))))
          .allowed,
        true,
      );
      const tagOnly = await admit(fail, '/validate', review('Pod', pod('cart', [`${host}/org/rs-cart:v1`])));
      assert.equal(tagOnly.allowed, false);
      assert.equal(
        tagOnly.status!.message,
        blocked('Pod', 'cart', [
          'check-images:',
          `  check-signature: missing digest for ${host}/org/rs-cart:v1`,
        ]),
      );
    },
  );

  await t.test('an unsigned image is denied with the Kyverno-shaped message', async () => {
    const r = await admit(fail, '/mutate', review('Pod', pod('unsigned', [`${host}/org/rs-unsigned:v1`])));
    assert.equal(r.allowed, false);
    assert.equal(r.status!.code, 403);
    assert.equal(r.patch, undefined);
    assert.equal(
      r.status!.message,
      blocked('Pod', 'unsigned', [
        'check-images:',
        `  check-signature: failed to verify image ${host}/org/rs-unsigned:v1: .attestors[0].entries[0].keyless: no signatures found`,
      ]),
    );
  });

  await t.test('an image signed by another workflow is denied (subject mismatch)', async () => {
    const r = await admit(fail, '/mutate', review('Pod', pod('other', [`${host}/org/rs-other:v1`])));
    assert.equal(r.allowed, false);
    assert.match(
      r.status!.message,
      /check-signature: failed to verify image .*\/org\/rs-other:v1: \.attestors\[0\]\.entries\[0\]\.keyless: subject mismatch: expected .*CI-CD\.yml.*, received \["https:\/\/github\.com\/org\/repo\/\.github\/workflows\/other\.yml@refs\/heads\/main"\]/,
    );
  });

  await t.test('a tag moved to other content after signing is denied', async () => {
    const r = await admit(fail, '/mutate', review('Pod', pod('moved', [`${host}/org/rs-moved:v1`])));
    assert.equal(r.allowed, false);
    assert.match(
      r.status!.message,
      /rs-moved:v1: \.attestors\[0\]\.entries\[0\]\.keyless: no signatures found/,
    );
  });

  await t.test(
    'a Deployment whose initContainer is unsigned is denied; the signed container alone is not enough',
    async () => {
      const body = review(
        'Deployment',
        deployment('web', [`${host}/org/rs-cart:v1`], [`${host}/org/rs-unsigned:v1`]),
      );
      const r = await admit(fail, '/mutate', body);
      assert.equal(r.allowed, false);
      assert.match(
        r.status!.message,
        /^\n\nresource Deployment\/default\/web was blocked due to the following policies \n\ncheck-images:\n {2}autogen-check-signature: failed to verify image .*rs-unsigned:v1: /,
      );
      // …and with a signed initContainer the patch paths follow the pod template.
      const ok = await admit(
        fail,
        '/mutate',
        review('Deployment', deployment('web', [`${host}/org/rs-cart:v1`], [`${host}/org/rs-cart:v1`])),
      );
      assert.equal(ok.allowed, true);
      assert.deepEqual(
        (JSON.parse(Buffer.from(ok.patch!, 'base64').toString()) as { path: string }[])
          .map((p) => p.path)
          .sort(),
        ['/spec/template/spec/containers/0/image', '/spec/template/spec/initContainers/0/image'],
      );
    },
  );

  await t.test(
    'images outside the pattern, excluded namespaces and DELETE are admitted untouched',
    async () => {
      const outside = await admit(fail, '/mutate', review('Pod', pod('outside', [`${host}/outside/app:v1`])));
      assert.equal(outside.allowed, true);
      assert.equal(outside.patch, undefined);
      const sys = await admit(
        fail,
        '/mutate',
        review('Pod', pod('sys', [`${host}/org/rs-unsigned:v1`]), 'kube-system'),
      );
      assert.equal(sys.allowed, true);
      const del = await admit(
        fail,
        '/validate',
        review('Pod', pod('d', [`${host}/org/rs-unsigned:v1`]), 'default', 'DELETE'),
      );
      assert.equal(del.allowed, true);
    },
  );

  await t.test(
    'tricky references: tag@digest is decided by the digest; a digest from another repository is refused',
    async () => {
      const mismatch = await admit(
        fail,
        '/mutate',
        review('Pod', pod('tagdigest', [`${host}/org/rs-cart:v1@${cartOtherDigest}`])),
      );
      assert.equal(mismatch.allowed, false, 'the signed tag does not excuse an unsigned digest');
      const pinned = await admit(
        fail,
        '/mutate',
        review('Pod', pod('pinned', [`${host}/org/rs-cart:other@${cartDigest}`])),
      );
      assert.equal(pinned.allowed, true, pinned.status?.message);
      assert.equal(pinned.patch, undefined, 'already pinned: nothing to patch');
      const foreign = await admit(
        fail,
        '/mutate',
        review('Pod', pod('foreign', [`${host}/org/rs-cart@${unsignedDigest}`])),
      );
      assert.equal(foreign.allowed, false);
      assert.match(foreign.status!.message, /rs-cart@sha256:[0-9a-f]{64}: .*not found/);
      const upper = await admit(fail, '/mutate', review('Pod', pod('upper', [`${host}/ORG/rs-cart:v1`])));
      assert.equal(upper.allowed, false, 'an unparseable image is refused, not waved through');
      assert.match(upper.status!.message, /repository name must be lowercase/);
    },
  );

  await t.test('Audit admits with a warning', async () => {
    const r = await admit(fail, '/mutate', review('Pod', pod('audit', [`${host}/audit/app:v1`])));
    assert.equal(r.allowed, true);
    assert.equal(r.patch, undefined);
    assert.equal(r.warnings?.length, 1);
    assert.match(
      r.warnings![0]!,
      /^policy audit-images\.audit-signature: failed to verify image .*audit\/app:v1: .*no signatures found \(audit: admitted\)$/,
    );
  });

  await t.test(
    'registry unreachable: denied under Fail, admitted with a warning under Ignore, within the timeout',
    async () => {
      for (const [name, image] of [
        ['refused', `${refused}/org/rs-x:v1`],
        ['hung', `${hole.host}/org/rs-x:v1`],
      ] as const) {
        let started = Date.now();
        const denied = await admit(fail, '/mutate', review('Pod', pod(name, [image])));
        const failMs = Date.now() - started;
        assert.equal(denied.allowed, false, name);
        assert.match(
          denied.status!.message,
          new RegExp(`check-signature: failed to verify image ${image.replace(/[.]/g, '\\.')}: `),
        );
        started = Date.now();
        const admitted = await admit(ignore, '/mutate', review('Pod', pod(name, [image])));
        const ignoreMs = Date.now() - started;
        assert.equal(admitted.allowed, true, name);
        assert.equal(admitted.patch, undefined);
        assert.match(admitted.warnings![0]!, /failurePolicy Ignore: admitted unverified/);
        assert.ok(
          failMs < 3500 && ignoreMs < 3500,
          `${name}: decided in ${failMs} / ${ignoreMs} ms with a 2000 ms budget`,
        );
        if (name === 'hung') assert.match(denied.status!.message, /did not finish within 2000 ms/);
      }
      // A real verification failure is not an error: Ignore does not wave it through.
      const unsigned = await admit(
        ignore,
        '/mutate',
        review('Pod', pod('unsigned', [`${host}/org/rs-unsigned:v1`])),
      );
      assert.equal(unsigned.allowed, false);
    },
  );

  await t.test('forged verification annotations in the object are ignored', async () => {
    const p = pod('forged', [`${host}/org/rs-unsigned:v1`]);
    (p.metadata as Record<string, unknown>).annotations = {
      'kyverno.io/verify-images': JSON.stringify({ [`${host}/org/rs-unsigned:v1`]: 'pass' }),
      'kyverno.io/verify-images-scoped': JSON.stringify({
        version: 1,
        policies: { '/check-images': { 'check-signature': { x: 'pass' } } },
      }),
    };
    assert.equal((await admit(fail, '/validate', review('Pod', p))).allowed, false);
  });

  await t.test('malformed reviews get 400 JSON; health, readiness and metrics answer', async () => {
    for (const raw of [
      '{',
      '[]',
      JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }),
      JSON.stringify({ apiVersion: 'v1', kind: 'AdmissionReview', request: { uid: 'x' } }),
    ]) {
      const r = await postJson(`${fail.url}/validate`, undefined, fail.caPem!, raw);
      assert.equal(r.status, 400, `${raw}: ${r.text}`);
      assert.match((r.body as { code: string }).code, /^INVALID_(INPUT|JSON)$/);
    }
    const big = await postJson(
      `${fail.url}/validate`,
      undefined,
      fail.caPem!,
      JSON.stringify({ pad: 'x'.repeat(4 * 1024 * 1024) }),
    );
    assert.equal(big.status, 413);
    assert.equal((await getText(`${fail.url}/healthz`, fail.caPem!)).status, 200);
    assert.equal((await getText(`${fail.url}/readyz`, fail.caPem!)).status, 200);
    const m = await getText(`${fail.url}/metrics`, fail.caPem!);
    assert.match(m.text, /sigil_admission_decisions_total\{endpoint="mutate",outcome="denied"\} [1-9]/);
    assert.match(m.text, /sigil_admission_decisions_total\{endpoint="validate",outcome="malformed"\} [1-9]/);
    assert.match(m.text, /sigil_admission_review_duration_seconds_bucket/);
    assert.match(
      m.text,
      /sigil_admission_cache_lookups\{result="hit"\} [1-9]/,
      'the repeated rs-cart verification came from the cache',
    );
  });
});
