import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { parsePolicyText } from '../../src/admission/policy/index.js';
import { createAdmissionServer, type AdmissionServer } from '../../src/admission/server.js';
import { registryImageSource, SigstoreSignatureVerifier } from '../../src/admission/real-verifier.js';
import { parseTrustedRoot } from '../../src/bundle/index.js';
import { RegistryClient } from '../../src/oci/index.js';
import { pod, postJson, review, webhookTestbed } from './helpers.js';

/**
 * A request without user info (what `sigil policy test` evaluates without --user/--group) is
 * matched as Kyverno matches it without admission info: a match filter's `subjects` are dropped,
 * an exclude filter's never hold. sigil used to read the missing user as matching no subject, so
 * such a rule did not apply and an unsigned image passed.
 */
test('no user info: match subjects are dropped, exclude subjects never hold', async (t) => {
  const bed = await webhookTestbed(t);
  if (!bed) return;
  const { stack, servers, host, push } = bed;
  const image = `${host}/org/unsigned:v1`;
  await push(image, 'no-user-info');
  const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .publicKey.export({ type: 'spki', format: 'pem' })
    .toString();
  const policy = (name: string, match: string, exclude = ''): string => `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: ${name}}
spec:
  rules:
    - name: signed
      match: ${match}${exclude ? `\n      exclude: ${exclude}` : ''}
      verifyImages:
        - imageReferences: ["${host}/*"]
          failureAction: Enforce
          mutateDigest: false
          attestors:
            - entries:
                - keys:
                    publicKeys: |
${pem
  .trim()
  .split('\n')
  .map((l) => `                      ${l}`)
  .join('\n')}`;
  const serve = async (yaml: string): Promise<AdmissionServer> => {
    const s = await createAdmissionServer({
      policies: parsePolicyText(yaml, 'p.yaml', { hasTrustedRoot: true }),
      source: registryImageSource(new RegistryClient({ timeoutMs: 3000 })),
      verifier: new SigstoreSignatureVerifier(parseTrustedRoot(stack.trustedRootJson)),
      port: 0,
      timeoutMs: 4000,
      logLevel: 'silent',
    });
    servers.push(s);
    return s;
  };
  const allowed = async (s: AdmissionServer, userInfo?: object): Promise<boolean> => {
    const body = review('Pod', pod('p', [image]));
    const r = await postJson(
      `${s.url}/mutate`,
      userInfo ? { ...body, request: { ...body.request, userInfo } } : body,
      s.caPem!,
    );
    assert.equal(r.status, 200, r.text);
    return (r.body as { response: { allowed: boolean } }).response.allowed;
  };
  const devs = `{kind: Group, name: developers}`;
  const withSubjects = await serve(
    policy('with-subjects', `{any: [{resources: {kinds: [Pod]}, subjects: [${devs}]}]}`),
  );
  assert.equal(
    await allowed(withSubjects),
    false,
    'no user info: the subjects are dropped, the rule applies',
  );
  // Controls: with user info the subjects decide as before.
  assert.equal(await allowed(withSubjects, { username: 'alice', groups: ['developers'] }), false);
  assert.equal(await allowed(withSubjects, { username: 'bob', groups: ['ops'] }), true);
  // A filter of subjects only is left empty: it matches nothing (Kyverno: "match cannot be empty").
  const onlySubjects = await serve(policy('only-subjects', `{any: [{subjects: [${devs}]}]}`));
  assert.equal(await allowed(onlySubjects), true);
  // Exclude subjects never hold without user info.
  const excluded = await serve(
    policy('exclude-subjects', `{any: [{resources: {kinds: [Pod]}}]}`, `{any: [{subjects: [${devs}]}]}`),
  );
  assert.equal(await allowed(excluded), false);
  assert.equal(await allowed(excluded, { username: 'alice', groups: ['developers'] }), true);
});
