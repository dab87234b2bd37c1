import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTrustedRoot } from '../../src/bundle/index.js';
import { parsePolicyText } from '../../src/admission/policy/index.js';
import { createAdmissionServer } from '../../src/admission/server.js';
import { registryImageSource, SigstoreSignatureVerifier } from '../../src/admission/real-verifier.js';
import { RegistryClient } from '../../src/oci/index.js';
import { pod, postJson, review, webhookTestbed } from './helpers.js';

/**
 * With the tag cache on, every rule of one request must verify the digest the patch pins. A rule
 * with mutateDigest false used to resolve the tag afresh while a pinning rule took the remembered
 * digest: after the tag moved, the pod was pinned to a digest the second rule never verified.
 */

interface Answer {
  allowed: boolean;
  status?: { message: string };
  patch?: string;
}

const CI_MAIN = '^https://github.com/org/repo/.github/workflows/CI-CD.yml@refs/heads/main$';
const NIGHTLY = '^https://github.com/org/repo/.github/workflows/nightly.yml@refs/heads/main$';

test('tag cache: all rules of a request verify the one digest that is pinned', async (t) => {
  const bed = await webhookTestbed(t);
  if (!bed) return;
  const { stack, servers, host, push, signer, sign } = bed;
  const ci = await signer();
  const nightly = await signer({
    job_workflow_ref: 'org/repo/.github/workflows/nightly.yml@refs/heads/main',
    workflow_ref: 'org/repo/.github/workflows/nightly.yml@refs/heads/main',
  });
  const image = `${host}/org/moving:v1`;
  // D1: signed by CI only; D2: signed by CI and nightly.
  const d1 = await push(image, 'moving-one');
  await sign(`${host}/org/moving@${d1}`, ci);

  const rule = (name: string, re: string, mutateDigest: boolean): string => `    - name: ${name}
      match: {any: [{resources: {kinds: [Pod]}}]}
      verifyImages:
        - imageReferences: ["${host}/org/*"]
          failureAction: Enforce
          mutateDigest: ${mutateDigest}
          attestors:
            - entries:
                - keyless:
                    subjectRegExp: "${re}"
                    issuer: "${stack.oidc.issuer}"
                    rekor: {url: "${stack.log.url}"}`;
  const yaml = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: two-signers}
spec:
  rules:
${rule('ci-pins', CI_MAIN, true)}
${rule('nightly-checks', NIGHTLY, false)}`;
  const server = await createAdmissionServer({
    policies: parsePolicyText(yaml, 'two-signers.yaml', { hasTrustedRoot: true }),
    source: registryImageSource(new RegistryClient({ timeoutMs: 3000 })),
    verifier: new SigstoreSignatureVerifier(parseTrustedRoot(stack.trustedRootJson)),
    port: 0,
    failurePolicy: 'Fail',
    timeoutMs: 4000,
    tagCache: { ttlMs: 60_000 },
    logLevel: 'silent',
  });
  servers.push(server);
  const admit = async (name: string): Promise<Answer> => {
    const r = await postJson(`${server.url}/mutate`, review('Pod', pod(name, [image])), server.caPem!);
    assert.equal(r.status, 200, r.text);
    return (r.body as { response: Answer }).response;
  };

  const first = await admit('first');
  assert.equal(first.allowed, false, 'D1 lacks the nightly signature');
  assert.match(first.status!.message, /nightly-checks/);

  // The tag moves to D2, which both workflows signed; the cache still remembers v1 → D1.
  const d2 = await push(image, 'moving-two');
  assert.notEqual(d2, d1);
  await sign(`${host}/org/moving@${d2}`, ci);
  await sign(`${host}/org/moving@${d2}`, nightly);

  // A rule that leaves the tag in place resolves it afresh, so both rules verify (and the patch
  // pins) D2; before, the patch pinned the remembered D1, which nightly never signed.
  const second = await admit('second');
  assert.equal(second.allowed, true, second.status?.message);
  const patch = JSON.parse(Buffer.from(second.patch ?? '', 'base64').toString()) as { value: string }[];
  assert.deepEqual(
    patch.map((op) => op.value),
    [`${image}@${d2}`],
  );
});
