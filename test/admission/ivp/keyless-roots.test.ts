import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTrustedRoot } from '../../../src/bundle/index.js';
import { toPem } from '../../../src/crypto/index.js';
import { parsePolicyText } from '../../../src/admission/policy/index.js';
import { createAdmissionServer } from '../../../src/admission/server.js';
import { registryImageSource, SigstoreSignatureVerifier } from '../../../src/admission/real-verifier.js';
import { RegistryClient } from '../../../src/oci/index.js';
import { issue } from '../../x509/test-ca.js';
import { pod, postJson, review, webhookTestbed } from '../helpers.js';

const indent = (text: string, n: number): string =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => `${' '.repeat(n)}${l}`)
    .join('\n');

/**
 * `keyless.roots` replaces the trusted root's certificate authorities for one attestor. Before
 * the fix the roots became authorities without a validity start, which the trust material
 * refuses, so every keyless attestor naming roots denied every image (ImageValidatingPolicy and
 * ClusterPolicy alike), even one whose certificate chains to exactly those roots.
 */
test('keyless roots: the CA that issued the certificate admits, another CA denies', async (t) => {
  const bed = await webhookTestbed(t);
  if (!bed) return;
  const { stack, servers, host, push, sign, signer } = bed;
  const root = parseTrustedRoot(stack.trustedRootJson);
  const chain = root.certificateAuthorities[0]!.certChain;
  const caPem = toPem('CERTIFICATE', chain[chain.length - 1]!);
  const now = Date.now();
  const other = await issue({
    name: 'other root',
    ca: true,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 3_600_000),
  });
  const otherPem = toPem('CERTIFICATE', other.der);
  const image = `${host}/org/roots@${await push(`${host}/org/roots:v1`, 'keyless roots')}`;
  await sign(image, await signer());
  const ivp = (name: string, roots: string) => `apiVersion: policies.kyverno.io/v1
kind: ImageValidatingPolicy
metadata:
  name: ${name}
spec:
  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: ["v1"]
        operations: ["CREATE"]
        resources: ["pods"]
  validationConfigurations:
    mutateDigest: false
    verifyDigest: false
  matchImageReferences:
    - glob: "${host}/org/roots*"
  attestors:
    - name: a
      cosign:
        keyless:
          identities:
            - issuer: "${stack.oidc.issuer}"
              subjectRegExp: ".*"
          roots: |
${indent(roots, 12)}
        ctlog:
          url: ${stack.log.url}
  validations:
    - expression: >-
        images.containers.map(i, verifyImageSignatures(i, [attestors.a])).all(e, e > 0)
      message: not verified
`;
  const clusterPolicy = (name: string, roots: string) => `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: ${name}
spec:
  validationFailureAction: Enforce
  rules:
    - name: signed
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
        - imageReferences: ["${host}/org/roots*"]
          mutateDigest: false
          verifyDigest: false
          attestors:
            - entries:
                - keyless:
                    issuer: "${stack.oidc.issuer}"
                    subjectRegExp: ".*"
                    roots: |
${indent(roots, 22)}
                    rekor:
                      url: ${stack.log.url}
`;
  const decide = async (yaml: string) => {
    const s = await createAdmissionServer({
      policies: parsePolicyText(yaml, 'policy.yaml', { hasTrustedRoot: true }),
      source: registryImageSource(new RegistryClient({ timeoutMs: 5000 })),
      verifier: new SigstoreSignatureVerifier(root),
      port: 0,
      timeoutMs: 8000,
      logLevel: 'silent',
    });
    servers.push(s);
    const r = await postJson(`${s.url}/validate`, review('Pod', pod('p', [image])), s.caPem!);
    assert.equal(r.status, 200, r.text);
    return (r.body as { response: { allowed: boolean; status?: { message: string } } }).response;
  };
  const ok = await decide(ivp('roots-right', caPem));
  assert.equal(ok.allowed, true, ok.status?.message);
  assert.equal((await decide(ivp('roots-other', otherPem))).allowed, false);
  const cp = await decide(clusterPolicy('cp-roots-right', caPem));
  assert.equal(cp.allowed, true, cp.status?.message);
  assert.equal((await decide(clusterPolicy('cp-roots-other', otherPem))).allowed, false);
});
