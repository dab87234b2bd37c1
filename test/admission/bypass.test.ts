import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTrustedRoot } from '../../src/bundle/index.js';
import { parsePolicyText } from '../../src/admission/policy/index.js';
import { createAdmissionServer, type AdmissionServer } from '../../src/admission/server.js';
import { registryImageSource, SigstoreSignatureVerifier } from '../../src/admission/real-verifier.js';
import { RegistryClient } from '../../src/oci/index.js';
import { pod, postJson, review, webhookTestbed } from './helpers.js';

/**
 * Regression tests for the admission bypasses of issue 14, each over HTTPS against the webhook
 * (`sigil admission serve`'s server) with real signatures in Debian's docker-registry. Each
 * "must deny" case was admitted by the code before the fix; the controls were decided the same
 * way before and after.
 */

interface Answer {
  allowed: boolean;
  status?: { message: string };
  patch?: string;
}

const ANY_ORG_WORKFLOW = '^https://github.com/org/repo/.github/workflows/.*';
const CI_MAIN = '^https://github.com/org/repo/.github/workflows/CI-CD.yml@refs/heads/main$';

test('admission bypasses (issue 14) over HTTPS with real signatures', async (t) => {
  const bed = await webhookTestbed(t);
  if (!bed) return;
  const { stack, servers, host, push, signer, sign } = bed;
  const ci = await signer();
  const nightly = await signer({
    job_workflow_ref: 'org/repo/.github/workflows/nightly.yml@refs/heads/main',
    workflow_ref: 'org/repo/.github/workflows/nightly.yml@refs/heads/main',
  });
  const ciDigest = await push(`${host}/org/rs-ci:v1`, 'ci');
  await sign(`${host}/org/rs-ci@${ciDigest}`, ci);
  const nightlyDigest = await push(`${host}/org/rs-nightly:v1`, 'nightly');
  await sign(`${host}/org/rs-nightly@${nightlyDigest}`, nightly);
  const unsignedDigest = await push(`${host}/org/rs-unsigned:v1`, 'unsigned');

  const keyless = (re: string, indent: string): string =>
    [
      `- keyless:`,
      `    subjectRegExp: "${re}"`,
      `    issuer: "${stack.oidc.issuer}"`,
      `    rekor: {url: "${stack.log.url}"}`,
    ]
      .map((l) => indent + l)
      .join('\n');
  const entry = (
    pattern: string,
    re: string,
    extra = '',
  ): string => `        - imageReferences: ["${pattern}"]
          failureAction: Enforce${extra}
          attestors:
            - entries:
${keyless(re, '                ')}`;
  const policy = (name: string, rule: string): string => `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: ${name}}
spec:
  rules:
${rule}`;
  const root = parseTrustedRoot(stack.trustedRootJson);
  const serve = async (yaml: string): Promise<AdmissionServer> => {
    const s = await createAdmissionServer({
      policies: parsePolicyText(yaml, `${t.name}.yaml`, { hasTrustedRoot: true }),
      source: registryImageSource(new RegistryClient({ timeoutMs: 3000 })),
      verifier: new SigstoreSignatureVerifier(root),
      port: 0,
      failurePolicy: 'Fail',
      timeoutMs: 4000,
      logLevel: 'silent',
    });
    servers.push(s);
    return s;
  };
  const admit = async (
    s: AdmissionServer,
    body: ReturnType<typeof review>,
    path: '/mutate' | '/validate' = '/mutate',
  ): Promise<Answer> => {
    const r = await postJson(`${s.url}${path}`, body, s.caPem!);
    assert.equal(r.status, 200, r.text);
    return (r.body as { response: Answer }).response;
  };
  const labelled = (name: string, images: string[], labels: Record<string, string>) => {
    const p = pod(name, images);
    return { ...p, metadata: { ...p.metadata, labels } };
  };

  await t.test('1: two entries of one rule are verified each on its own (cache and coalescing)', async () => {
    const weakFirst = await serve(
      policy(
        'two-entries',
        `    - name: org
      match: {any: [{resources: {kinds: [Pod]}}]}
      verifyImages:
${entry(`${host}/org/*`, ANY_ORG_WORKFLOW)}
${entry(`${host}/org/rs-*`, CI_MAIN)}`,
      ),
    );
    const r = await admit(weakFirst, review('Pod', pod('nightly', [`${host}/org/rs-nightly:v1`])));
    assert.equal(r.allowed, false, 'signed only by nightly.yml: the strict entry must deny');
    assert.match(r.status!.message, /subject mismatch: expected .*CI-CD/);
    // The weak entry alone (control): nightly.yml is an org workflow.
    const weakOnly = await serve(
      policy(
        'weak-only',
        `    - name: org
      match: {any: [{resources: {kinds: [Pod]}}]}
      verifyImages:
${entry(`${host}/org/*`, ANY_ORG_WORKFLOW)}`,
      ),
    );
    assert.equal(
      (await admit(weakOnly, review('Pod', pod('n', [`${host}/org/rs-nightly:v1`])))).allowed,
      true,
    );
    // Other order: the weak entry passes, and only the strict entry's failure is reported.
    const strictFirst = await serve(
      policy(
        'two-entries-reversed',
        `    - name: org
      match: {any: [{resources: {kinds: [Pod]}}]}
      verifyImages:
${entry(`${host}/org/rs-*`, CI_MAIN)}
${entry(`${host}/org/*`, ANY_ORG_WORKFLOW)}`,
      ),
    );
    const d = await admit(strictFirst, review('Pod', pod('nightly2', [`${host}/org/rs-nightly:v1`])));
    assert.equal(d.allowed, false);
    assert.equal(d.status!.message.match(/failed to verify image/g)?.length, 1, d.status!.message);
    // Control: the CI-CD image satisfies both entries, also as two rules.
    assert.equal((await admit(weakFirst, review('Pod', pod('ci', [`${host}/org/rs-ci:v1`])))).allowed, true);
    const twoRules = await serve(
      policy(
        'two-rules',
        `    - name: weak
      match: {any: [{resources: {kinds: [Pod]}}]}
      verifyImages:
${entry(`${host}/org/*`, ANY_ORG_WORKFLOW)}
    - name: strict
      match: {any: [{resources: {kinds: [Pod]}}]}
      verifyImages:
${entry(`${host}/org/rs-*`, CI_MAIN)}`,
      ),
    );
    assert.equal(
      (await admit(twoRules, review('Pod', pod('n3', [`${host}/org/rs-nightly:v1`])))).allowed,
      false,
    );
    assert.equal((await admit(twoRules, review('Pod', pod('c3', [`${host}/org/rs-ci:v1`])))).allowed, true);
  });

  await t.test('2: an exclude filter is the AND of its conditions, not a flat set of kinds', async () => {
    const s = await serve(
      policy(
        'exclude-ci-tools',
        `    - name: org
      match: {any: [{resources: {kinds: [Pod]}}]}
      exclude: {any: [{resources: {kinds: [Pod], namespaces: [ci-tools]}}]}
      verifyImages:
${entry(`${host}/org/*`, CI_MAIN)}`,
      ),
    );
    const img = `${host}/org/rs-unsigned:v1`;
    assert.equal((await admit(s, review('Pod', pod('u', [img]), 'default'))).allowed, false);
    // Control: the excluded namespace is still excluded; a namespace-only exclude as before.
    assert.equal((await admit(s, review('Pod', pod('u', [img]), 'ci-tools'))).allowed, true);
    const nsOnly = await serve(
      policy(
        'exclude-ns-only',
        `    - name: org
      match: {any: [{resources: {kinds: [Pod]}}]}
      exclude: {any: [{resources: {namespaces: [ci-tools]}}]}
      verifyImages:
${entry(`${host}/org/*`, CI_MAIN)}`,
      ),
    );
    assert.equal((await admit(nsOnly, review('Pod', pod('u', [img]), 'default'))).allowed, false);
    assert.equal((await admit(nsOnly, review('Pod', pod('u', [img]), 'ci-tools'))).allowed, true);
    // User info: an exclude for one service account excludes that requester only.
    const bySubject = await serve(
      policy(
        'exclude-subject',
        `    - name: org
      match: {any: [{resources: {kinds: [Pod]}}]}
      exclude:
        any:
          - subjects: [{kind: ServiceAccount, name: builder, namespace: ci-tools}]
            resources: {kinds: [Pod]}
      verifyImages:
${entry(`${host}/org/*`, CI_MAIN)}`,
      ),
    );
    const asUser = (username: string) => {
      const body = review('Pod', pod('u', [img]));
      return { ...body, request: { ...body.request, userInfo: { username, groups: [] } } };
    };
    assert.equal((await admit(bySubject, asUser('system:serviceaccount:ci-tools:builder'))).allowed, true);
    assert.equal((await admit(bySubject, asUser('alice'))).allowed, false);
  });

  await t.test('3: match.any is an OR of whole filters (namespace OR selector)', async () => {
    const s = await serve(
      policy(
        'match-any',
        `    - name: org
      match:
        any:
          - resources: {kinds: [Pod], namespaces: [prod]}
          - resources: {kinds: [Pod], selector: {matchLabels: {tier: web}}}
      verifyImages:
${entry(`${host}/org/*`, CI_MAIN)}`,
      ),
    );
    const img = `${host}/org/rs-unsigned:v1`;
    assert.equal(
      (await admit(s, review('Pod', labelled('web', [img], { tier: 'web' }), 'default'))).allowed,
      false,
      'the selector filter matches outside prod',
    );
    assert.equal((await admit(s, review('Pod', pod('p', [img]), 'prod'))).allowed, false);
    // Control: neither filter matches.
    assert.equal(
      (await admit(s, review('Pod', labelled('db', [img], { tier: 'db' }), 'default'))).allowed,
      true,
    );
  });

  await t.test('5: an image volume is verified and pinned like a container image', async () => {
    const s = await serve(
      policy(
        'volumes',
        `    - name: org
      match: {any: [{resources: {kinds: [Pod]}}]}
      verifyImages:
${entry(`${host}/org/*`, CI_MAIN)}`,
      ),
    );
    const withVolume = (image: string) => {
      const p = pod('vol', [`${host}/org/rs-ci:v1`]);
      return { ...p, spec: { ...p.spec, volumes: [{ name: 'data', image: { reference: image } }] } };
    };
    const d = await admit(s, review('Pod', withVolume(`${host}/org/rs-unsigned:v1`)));
    assert.equal(d.allowed, false);
    assert.match(d.status!.message, /rs-unsigned:v1/);
    const ok = await admit(s, review('Pod', withVolume(`${host}/org/rs-ci:v1`)));
    assert.equal(ok.allowed, true, ok.status?.message);
    const patch = JSON.parse(Buffer.from(ok.patch!, 'base64').toString()) as {
      path: string;
      value: string;
    }[];
    assert.deepEqual(
      patch.find((p) => p.path === '/spec/volumes/0/image/reference'),
      { op: 'replace', path: '/spec/volumes/0/image/reference', value: `${host}/org/rs-ci:v1@${ciDigest}` },
    );
  });

  await t.test('6: patterns see repo@digest: a made-up tag does not skip an unsigned digest', async () => {
    const s = await serve(
      policy(
        'skip-by-tag',
        `    - name: org
      match: {any: [{resources: {kinds: [Pod]}}]}
      verifyImages:
${entry(`${host}/org/*`, CI_MAIN, `\n          skipImageReferences: ["${host}/org/*:trusted-*"]`)}`,
      ),
    );
    const forged = `${host}/org/rs-unsigned:trusted-x@${unsignedDigest}`;
    assert.equal((await admit(s, review('Pod', pod('f', [forged])))).allowed, false);
    // Control: a tag-only reference is still skipped by a tag pattern.
    await push(`${host}/org/rs-unsigned:trusted-1`, 'unsigned');
    assert.equal(
      (await admit(s, review('Pod', pod('t', [`${host}/org/rs-unsigned:trusted-1`])))).allowed,
      true,
    );
  });

  await t.test(
    '8: registry aliases fall under the canonical pattern (checked, not admitted unverified)',
    async () => {
      const s = await serve(
        policy(
          'aliases',
          `    - name: hub
      match: {any: [{resources: {kinds: [Pod]}}]}
      verifyImages:
${entry('docker.io/org/*', CI_MAIN)}
${entry('ghcr.io/org/*', CI_MAIN)}`,
        ),
      );
      for (const image of [
        'registry-1.docker.io/org/app:v1',
        'index.docker.io/org/app:v1',
        'ghcr.io:443/org/app:v1',
      ]) {
        const d = await admit(s, review('Pod', pod('alias', [image])));
        assert.equal(d.allowed, false, `${image} must be checked by the rule`);
        assert.match(d.status!.message, /failed to verify image/);
      }
      // Control: another registry stays outside the rule.
      assert.equal((await admit(s, review('Pod', pod('q', ['quay.io/org/app:v1'])))).allowed, true);
    },
  );
});
