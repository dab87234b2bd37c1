import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emptyRoot } from '../../../src/admission/attestor-trust.js';
import { parsePolicyText } from '../../../src/admission/policy/index.js';
import { parseTrustedRoot } from '../../../src/bundle/index.js';
import { generateP256, publicKeyPem } from '../../../src/crypto/index.js';
import { createSigning } from '../../../src/sign/factory.js';
import { buildTufFiles, buildTufRoot } from '../../../src/tuf/index.js';
import { webhookTestbed } from '../helpers.js';
import { refusedPolicy, serveTuf, trustedRootTarget, tufPolicy } from '../../tuf/helpers.js';
import { admissionFor, indent, ivp, SIGNED } from './testbed.js';

/**
 * `cosign.tuf`: the attestor's trust is the trusted_root.json of the TUF repository the policy
 * names, updated from the policy's root, and never the webhook's own trusted root.
 */
test('cosign.tuf: the TUF repository’s trusted root decides, never the server’s', async (t) => {
  const bed = await webhookTestbed(t);
  if (!bed) return;
  const { stack, servers, host, push, sign, signer } = bed;
  const realRoot = parseTrustedRoot(stack.trustedRootJson);
  const image = `${host}/org/tuf@${await push(`${host}/org/tuf:v1`, 'tuf image')}`;
  await sign(image, await signer());

  const now = new Date();
  const tufKey = generateP256().privateKey;
  const tufRoot = buildTufRoot(tufKey, now);
  const serve = (trusted: unknown, key = tufKey) => {
    const root = key === tufKey ? tufRoot : buildTufRoot(key, now);
    const files = buildTufFiles(key, root, trustedRootTarget(trusted), 1, now);
    return serveTuf(t, () => files);
  };
  const stackMirror = await serve(stack.trustedRootJson);
  // The same stack's root without its certificate authority: a keyless signature cannot chain.
  const noCaMirror = await serve({ ...stack.trustedRootJson, certificateAuthorities: [] });
  const forgedMirror = await serve(stack.trustedRootJson, generateP256().privateKey);
  const deadMirror = 'http://127.0.0.1:1/tuf';

  const keyless = (mirror: string) => `keyless:
  identities:
    - issuer: "${stack.oidc.issuer}"
      subjectRegExp: ".*"
tuf:
  mirror: ${mirror}
  root:
    data: ${tufRoot.toString('base64')}
`;
  const policy = (name: string, mirror: string) => ivp(name, `${host}/org/tuf*`, keyless(mirror), SIGNED);

  // The webhook itself trusts nothing: only the TUF root can admit.
  const untrusting = admissionFor(servers, emptyRoot());
  const ok = await untrusting.decide(policy('tuf-stack', stackMirror), image);
  assert.equal(ok.allowed, true, ok.status?.message);
  assert.equal((await untrusting.decide(policy('tuf-no-ca', noCaMirror), image)).allowed, false);

  // The webhook trusts the stack: a forged or unreachable repository still denies (no fallback).
  const trusting = admissionFor(servers, realRoot);
  const control = await trusting.decide(policy('tuf-stack-2', stackMirror), image);
  assert.equal(control.allowed, true, control.status?.message);
  const forged = await trusting.decide(policy('tuf-forged', forgedMirror), image);
  assert.equal(forged.allowed, false);
  assert.match(forged.status?.message ?? '', /not verified/);
  const dead = await trusting.decide(policy('tuf-dead', deadMirror), image);
  assert.equal(dead.allowed, false);

  // A key attestor that ignores the log needs no Sigstore trust: Kyverno fetches no TUF root for it.
  const { privateKey, publicKey } = generateP256();
  const keyed = `${host}/org/tuf@${await push(`${host}/org/tuf:key`, 'tuf keyed image')}`;
  const keySigning = createSigning({ key: { kind: 'key-file', privateKey, publicKey }, logUrl: undefined });
  await sign(keyed, keySigning.builder);
  const keyPolicy = ivp(
    'tuf-key-no-tlog',
    `${host}/org/tuf*`,
    `key:
  data: |
${indent(publicKeyPem(publicKey), 4)}
ctlog:
  insecureIgnoreTlog: true
tuf:
  mirror: ${deadMirror}
  root:
    data: ${tufRoot.toString('base64')}
`,
    SIGNED,
  );
  const k = await untrusting.decide(keyPolicy, keyed);
  assert.equal(k.allowed, true, k.status?.message);
});

test('cosign.tuf is read only by policies with validations (CEL), and needs a root', () => {
  const root = buildTufRoot(generateP256().privateKey, new Date()).toString('base64');
  const legacy = tufPolicy('legacy-tuf', `            data: ${root}`, { validations: false });
  refusedPolicy(legacy, /attestors\[0\]\.cosign\.tuf: is evaluated only in a policy with validations/);
  const withValidations = tufPolicy('legacy-tuf', `            data: ${root}`, { validations: true });
  assert.equal(parsePolicyText(withValidations, 'p.yaml', { hasTrustedRoot: false }).length, 1);
  refusedPolicy(
    withValidations.replace(`data: ${root}`, 'path: /no/such/root.json'),
    /tuf\.root\.path: cannot read/,
  );
  refusedPolicy(
    withValidations.replace(
      / {8}tuf:\n {10}root:\n {12}data: \S+\n/,
      '        tuf:\n          mirror: https://tuf.example\n',
    ),
    /tuf\.root: is required: sigil embeds no public-good TUF root/,
  );
});
