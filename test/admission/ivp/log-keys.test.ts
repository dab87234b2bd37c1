import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { parseTrustedRoot } from '../../../src/bundle/index.js';
import { webhookTestbed } from '../helpers.js';
import { admissionFor, indent, ivp, SIGNED } from './testbed.js';

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
  const policy = (name: string, rekor: string, ct: string) =>
    ivp(
      name,
      `${host}/org/log-keys*`,
      `keyless:
  identities:
    - issuer: "${stack.oidc.issuer}"
      subjectRegExp: ".*"
ctlog:
  url: ${stack.log.url}
  rekorPubKey: |
${indent(rekor, 4)}
  ctLogPubKey: |
${indent(ct, 4)}
`,
      SIGNED,
    );
  const { decide: decideOn } = admissionFor(servers, root);
  const decide = (yaml: string) => decideOn(yaml, image);
  const ok = await decide(policy('keys-right', rekorPem, ctPem));
  assert.equal(ok.allowed, true, ok.status?.message);
  assert.equal((await decide(policy('rekor-wrong', stranger, ctPem))).allowed, false);
  assert.equal((await decide(policy('ct-wrong', rekorPem, stranger))).allowed, false);
});
