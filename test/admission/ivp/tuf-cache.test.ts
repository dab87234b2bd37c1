import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emptyRoot } from '../../../src/admission/attestor-trust.js';
import { IvpVerification, registryIvpSource } from '../../../src/admission/ivp/verifier.js';
import { parsePolicyText } from '../../../src/admission/policy/index.js';
import { SigstoreSignatureVerifier } from '../../../src/admission/real-verifier.js';
import { generateP256 } from '../../../src/crypto/index.js';
import { RegistryClient } from '../../../src/oci/index.js';
import {
  buildTufFiles,
  buildTufRoot,
  fetchTufTrustedRoot,
  TUF_CACHE_MS,
  TufTrustedRoots,
} from '../../../src/tuf/index.js';
import { webhookTestbed } from '../helpers.js';
import { serveTuf, trustedRootTarget } from '../../tuf/helpers.js';
import { ivp, SIGNED } from './testbed.js';

/**
 * A verdict reached with one TUF trusted root is not kept once the repository serves another
 * (a revoked CA) or can no longer be read: the TUF root is part of what a verdict is keyed by.
 */
test('cosign.tuf: a cached success does not outlive the TUF root it was reached with', async (t) => {
  const bed = await webhookTestbed(t);
  if (!bed) return;
  const { stack, host, push, sign, signer } = bed;
  const image = `${host}/org/tufc@${await push(`${host}/org/tufc:v1`, 'tuf cache image')}`;
  await sign(image, await signer());

  const tufKey = generateP256().privateKey;
  const tufRoot = buildTufRoot(tufKey, new Date());
  let version = 1;
  let files: ReadonlyMap<string, Buffer> = new Map();
  const serve = (trusted: unknown) => {
    files = buildTufFiles(tufKey, tufRoot, trustedRootTarget(trusted), version++, new Date());
  };
  const mirror = await serveTuf(t, () => files);

  const yaml = ivp(
    'tuf-cache',
    `${host}/org/tufc*`,
    `keyless:
  identities:
    - issuer: "${stack.oidc.issuer}"
      subjectRegExp: ".*"
tuf:
  mirror: ${mirror}
  root:
    data: ${tufRoot.toString('base64')}
`,
    SIGNED,
  );
  const policy = parsePolicyText(yaml, 'p.yaml', { hasTrustedRoot: false })[0]!.ivp!;
  const attestors = [...policy.attestors.values()];
  let now = Date.now();
  const verification = new IvpVerification(
    registryIvpSource(new RegistryClient({ timeoutMs: 5000 })),
    new SigstoreSignatureVerifier(emptyRoot()),
    undefined,
    new TufTrustedRoots(fetchTufTrustedRoot, () => now),
  );
  const request = () => verification.forRequest(() => AbortSignal.timeout(8000), policy);
  const count = () => request().signatures(policy, image, attestors);
  // A due TUF root still answers while its update runs (at most 10 s): wait for the update's verdict.
  const countAfterUpdate = async (want: number) => {
    const deadline = Date.now() + 12_000;
    let got = await count();
    while (got !== want && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      got = await count();
    }
    return got;
  };

  serve(stack.trustedRootJson);
  assert.equal(await count(), 1);
  assert.equal(request().peekSignatures!(policy, image, attestors), 1);

  // The repository revokes the CA: once the TUF root is refreshed, the image no longer verifies.
  serve({ ...stack.trustedRootJson, certificateAuthorities: [] });
  now += TUF_CACHE_MS.ok + 1;
  assert.equal(await countAfterUpdate(0), 0);
  assert.equal(request().peekSignatures!(policy, image, attestors), undefined);

  // Back to the CA, then the mirror goes away: a TUF failure leaves the attestor uncounted.
  serve(stack.trustedRootJson);
  now += TUF_CACHE_MS.ok + 1;
  assert.equal(await countAfterUpdate(1), 1);
  files = new Map();
  now += TUF_CACHE_MS.ok + 1;
  assert.equal(await countAfterUpdate(0), 0);
  assert.equal(request().peekSignatures!(policy, image, attestors), undefined);
});
