import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTrustedRoot } from '../../../src/bundle/index.js';
import { toPem } from '../../../src/crypto/index.js';
import { issue } from '../../x509/test-ca.js';
import { webhookTestbed } from '../helpers.js';
import { admissionFor, indent, ivp, SIGNED } from './testbed.js';

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
  const keylessRoots = (name: string, roots: string) =>
    ivp(
      name,
      `${host}/org/roots*`,
      `keyless:
  identities:
    - issuer: "${stack.oidc.issuer}"
      subjectRegExp: ".*"
  roots: |
${indent(roots, 4)}
ctlog:
  url: ${stack.log.url}
`,
      SIGNED,
    );
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
  const { decide: decideOn } = admissionFor(servers, root);
  const decide = (yaml: string) => decideOn(yaml, image);
  const ok = await decide(keylessRoots('roots-right', caPem));
  assert.equal(ok.allowed, true, ok.status?.message);
  assert.equal((await decide(keylessRoots('roots-other', otherPem))).allowed, false);
  const cp = await decide(clusterPolicy('cp-roots-right', caPem));
  assert.equal(cp.allowed, true, cp.status?.message);
  assert.equal((await decide(clusterPolicy('cp-roots-other', otherPem))).allowed, false);
});
