import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTrustedRoot } from '../../src/bundle/index.js';
import { createTagDigestCache, MAX_TAG_CACHE_TTL_MS } from '../../src/admission/cache.js';
import { parsePolicyText } from '../../src/admission/policy/index.js';
import { createAdmissionServer, type AdmissionServer } from '../../src/admission/server.js';
import { registryImageSource, SigstoreSignatureVerifier } from '../../src/admission/real-verifier.js';
import { parseReference, pushImage, RegistryClient, tinyImage } from '../../src/oci/index.js';
import { createRegistryServer } from '../../src/demo/registry/index.js';
import { createSigning, resolveImage, signImage } from '../../src/sign/index.js';
import { startStack } from '../e2e/stack.js';
import { pod, postJson, review } from './helpers.js';

interface Answer {
  allowed: boolean;
  status?: { message: string };
  patch?: string;
}

test('the tag → digest cache is off by default and bounded', () => {
  assert.equal(createTagDigestCache(), undefined);
  assert.equal(createTagDigestCache({ ttlMs: 0 }), undefined);
  assert.ok(createTagDigestCache({ ttlMs: 5000 }));
  assert.throws(() => createTagDigestCache({ ttlMs: MAX_TAG_CACHE_TTL_MS + 1 }), { code: 'INVALID_INPUT' });
  assert.throws(() => createTagDigestCache({ ttlMs: -1 }), { code: 'INVALID_INPUT' });
});

test('with the tag cache on, a tag moved to unsigned content is pinned to the verified digest, then denied', async (t) => {
  const stack = await startStack();
  const registry = await createRegistryServer({ port: 0, logLevel: 'silent' });
  const servers: AdmissionServer[] = [];
  t.after(async () => {
    for (const s of servers) await s.close();
    await registry.close();
    await stack.close();
  });
  const client = new RegistryClient();
  const tag = `${registry.host}/org/rs-app:v1`;
  const signedDigest = await pushImage(client, parseReference(tag), tinyImage('signed content'));
  const { builder } = createSigning({
    key: { kind: 'keyless', caUrl: stack.ca.url, tokens: { token: await stack.oidc.mint(), env: {} } },
    logUrl: stack.log.url,
  });
  await signImage({ client, image: await resolveImage(client, parseReference(tag)), builder });
  const policies = parsePolicyText(
    `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: check-images
spec:
  rules:
    - name: check-signature
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
        - imageReferences: ["${registry.host}/org/rs-*"]
          failureAction: Enforce
          attestors:
            - entries:
                - keyless:
                    subjectRegExp: "^https://github.com/org/repo/.github/workflows/CI-CD.yml@.*"
                    issuer: "${stack.oidc.issuer}"
`,
    'policy.yaml',
    { hasTrustedRoot: true },
  );
  const ttlMs = 4000;
  const make = async (tagCacheTtlMs: number): Promise<AdmissionServer> => {
    const s = await createAdmissionServer({
      policies,
      source: registryImageSource(new RegistryClient({ timeoutMs: 5000 })),
      verifier: new SigstoreSignatureVerifier(parseTrustedRoot(stack.trustedRootJson)),
      port: 0,
      logLevel: 'silent',
      tagCache: { ttlMs: tagCacheTtlMs },
    });
    servers.push(s);
    return s;
  };
  const cached = await make(ttlMs);
  const uncached = await make(0);
  const admit = async (s: AdmissionServer, path: '/mutate' | '/validate'): Promise<Answer> => {
    const r = await postJson(`${s.url}${path}`, review('Pod', pod('app', [tag])), s.caPem!);
    assert.equal(r.status, 200, r.text);
    return (r.body as { response: Answer }).response;
  };
  const patched = (a: Answer): string =>
    (JSON.parse(Buffer.from(a.patch!, 'base64').toString()) as { value: string }[])[0]!.value;

  const first = await admit(cached, '/mutate');
  assert.equal(first.allowed, true, first.status?.message);
  assert.equal(patched(first), `${tag}@${signedDigest}`);

  // The tag now names unsigned content.
  const movedDigest = await pushImage(client, parseReference(tag), tinyImage('unsigned content'));
  assert.notEqual(movedDigest, signedDigest);
  const started = Date.now();

  // Without the cache the move is caught at once.
  const fresh = await admit(uncached, '/mutate');
  assert.equal(fresh.allowed, false);
  assert.match(fresh.status!.message, /rs-app:v1: .*no signatures found/);

  // With it, within the TTL the pod is pinned to the digest that was verified: the unsigned
  // content can never be what runs.
  const within = await admit(cached, '/mutate');
  if (Date.now() - started < ttlMs) {
    assert.equal(within.allowed, true, within.status?.message);
    assert.equal(patched(within), `${tag}@${signedDigest}`);
  }
  // Validation without a patch never uses a remembered tag (and here refuses the bare tag).
  assert.equal((await admit(cached, '/validate')).allowed, false);

  // After the TTL the tag is resolved again and the moved content is denied.
  await new Promise((r) => setTimeout(r, ttlMs + 100));
  const after = await admit(cached, '/mutate');
  assert.equal(after.allowed, false);
  assert.match(after.status!.message, /rs-app:v1: .*no signatures found/);
});
