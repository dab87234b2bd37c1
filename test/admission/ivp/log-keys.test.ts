import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { parseTrustedRoot } from '../../../src/bundle/index.js';
import { parsePolicyText } from '../../../src/admission/policy/index.js';
import { createAdmissionServer } from '../../../src/admission/server.js';
import { registryImageSource, SigstoreSignatureVerifier } from '../../../src/admission/real-verifier.js';
import { RegistryClient } from '../../../src/oci/index.js';
import { pod, postJson, review, webhookTestbed } from '../helpers.js';

const indent = (text: string, n: number): string =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => `${' '.repeat(n)}${l}`)
    .join('\n');
const pemOf = (spki: Buffer): string =>
  createPublicKey({ key: spki, format: 'der', type: 'spki' })
    .export({ type: 'spki', format: 'pem' })
    .toString();

/**
 * `ctlog.rekorPubKey` and `ctlog.ctLogPubKey` replace the trusted root's log keys for one
 * attestor. Before the fix the keys were made into log instances without a validity start, which
 * the trust material refuses, so every policy naming either key failed on every image, even one
 * logged by exactly that log.
 */
test('IVP ctlog.rekorPubKey / ctLogPubKey: the right keys admit, another key denies', async (t) => {
  const bed = await webhookTestbed(t);
  if (!bed) return;
  const { stack, servers, host, push, sign, signer } = bed;
  const root = parseTrustedRoot(stack.trustedRootJson);
  const rekorPem = pemOf(root.tlogs[0]!.publicKey.rawBytes);
  const ctPem = pemOf(root.ctlogs[0]!.publicKey.rawBytes);
  const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .publicKey.export({ type: 'spki', format: 'pem' })
    .toString();
  const image = `${host}/org/log-keys@${await push(`${host}/org/log-keys:v1`, 'log keys')}`;
  await sign(image, await signer());
  const policy = (name: string, rekor: string, ct: string) => `apiVersion: policies.kyverno.io/v1
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
    - glob: "${host}/org/log-keys*"
  attestors:
    - name: a
      cosign:
        keyless:
          identities:
            - issuer: "${stack.oidc.issuer}"
              subjectRegExp: ".*"
        ctlog:
          url: ${stack.log.url}
          rekorPubKey: |
${indent(rekor, 12)}
          ctLogPubKey: |
${indent(ct, 12)}
  validations:
    - expression: >-
        images.containers.map(i, verifyImageSignatures(i, [attestors.a])).all(e, e > 0)
      message: not verified
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
  const ok = await decide(policy('keys-right', rekorPem, ctPem));
  assert.equal(ok.allowed, true, ok.status?.message);
  assert.equal((await decide(policy('rekor-wrong', stranger, ctPem))).allowed, false);
  assert.equal((await decide(policy('ct-wrong', rekorPem, stranger))).allowed, false);
});
