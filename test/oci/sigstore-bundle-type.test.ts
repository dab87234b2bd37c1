import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTrustedRoot } from '../../src/bundle/index.js';
import { AdmissionEngine } from '../../src/admission/engine.js';
import { parsePolicyText } from '../../src/admission/policy/index.js';
import { registryImageSource, SigstoreSignatureVerifier } from '../../src/admission/real-verifier.js';
import { parseReference, pushImage, RegistryClient, tinyImage } from '../../src/oci/index.js';
import { createRegistryServer } from '../../src/demo/registry/index.js';
import { resolveImage, signImage, signImageBundle } from '../../src/sign/index.js';
import { clusterPolicy, keylessBuilder, WORKFLOW_RE } from './helpers.js';
import { pod } from '../admission/helpers.js';
import { startStack } from '../e2e/stack.js';

/**
 * ClusterPolicy `type: SigstoreBundle` (Kyverno: cosign v3 / OCI 1.1 bundles, read from the
 * referrers) counts Sigstore bundles only: an image signed in the legacy `.sig` layout, which
 * `type: Cosign` admits, is denied; a v3 bundle signature is admitted and pinned.
 */
test('type: SigstoreBundle admits a v3 bundle signature and denies a legacy .sig one that type: Cosign admits', async (t) => {
  const stack = await startStack();
  const reg = await createRegistryServer({ port: 0, logLevel: 'silent' });
  t.after(async () => {
    await reg.close();
    await stack.close();
  });
  const host = reg.host;
  const client = new RegistryClient();
  const builder = await keylessBuilder(stack);
  const v3 = await pushImage(client, parseReference(`${host}/org/v3:v1`), tinyImage('bundle type v3'));
  await signImageBundle({ client, image: parseReference(`${host}/org/v3@${v3}`), builder });
  const legacyRef = parseReference(`${host}/org/legacy:v1`);
  await pushImage(client, legacyRef, tinyImage('bundle type legacy'));
  await signImage({ client, image: await resolveImage(client, legacyRef), builder });

  const engine = (entry: string[]) =>
    new AdmissionEngine({
      policies: parsePolicyText(
        clusterPolicy(
          [`${host}/org/*`],
          { subjectRegExp: WORKFLOW_RE, issuer: stack.oidc.issuer, rekorUrl: stack.log.url },
          entry,
        ),
        'policy.yaml',
        { hasTrustedRoot: true },
      ),
      source: registryImageSource(new RegistryClient({ timeoutMs: 5000 })),
      verifier: new SigstoreSignatureVerifier(parseTrustedRoot(stack.trustedRootJson)),
    });
  const decide = (e: AdmissionEngine, image: string) =>
    e.evaluate(
      { kind: 'Pod', namespace: 'default', name: 'p', operation: 'CREATE', object: pod('p', [image]) },
      'mutate',
    );
  const cosign = engine([]);
  const bundle = engine(['type: SigstoreBundle']);
  const legacyByCosign = await decide(cosign, `${host}/org/legacy:v1`);
  assert.equal(legacyByCosign.allowed, true, legacyByCosign.message);
  const legacyByBundle = await decide(bundle, `${host}/org/legacy:v1`);
  assert.equal(legacyByBundle.allowed, false);
  assert.match(legacyByBundle.message ?? '', /org\/legacy:v1: .*no signatures found/);
  const v3ByBundle = await decide(bundle, `${host}/org/v3:v1`);
  assert.equal(v3ByBundle.allowed, true, v3ByBundle.message);
  assert.deepEqual(
    v3ByBundle.patch.map((p) => p.value),
    [`${host}/org/v3:v1@${v3}`],
  );
});
