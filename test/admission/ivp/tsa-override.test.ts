import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseTrustedRoot, type TrustedRoot } from '../../../src/bundle/index.js';
import { createSigning } from '../../../src/sign/index.js';
import { createTsaServer, type TsaServer } from '../../../src/tsa/server.js';
import { webhookTestbed } from '../helpers.js';
import { admissionFor, indent, ivp, SIGNED } from './testbed.js';

/**
 * `ctlog.tsaCertChain` names the timestamp authority an attestor trusts, as cosign's
 * --timestamp-certificate-chain does (CheckOpts.TSACertificate/TSARootCertificates replace the
 * trusted TSAs): a timestamp from a TSA the server's trusted root lists is not one from the
 * policy's TSA. Before the fix the policy's chain was appended to the server's TSAs, so a
 * signature timestamped only by the server root's TSA satisfied a policy that pinned another.
 */
test('IVP ctlog.tsaCertChain: a timestamp from a TSA of the server trusted root does not satisfy the policy TSA', async (t) => {
  const bed = await webhookTestbed(t);
  if (!bed) return;
  const { stack, servers, host, push, sign } = bed;
  const dirs = [mkdtempSync(join(tmpdir(), 'sigil-tsa-pol-')), mkdtempSync(join(tmpdir(), 'sigil-tsa-srv-'))];
  const tsas: TsaServer[] = [];
  t.after(async () => {
    for (const s of tsas) await s.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  for (const d of dirs) tsas.push(await createTsaServer({ dataDir: d, port: 0, logLevel: 'silent' }));
  const [policyTsa, serverTsa] = tsas as [TsaServer, TsaServer];
  // The server's trusted root lists serverTsa (as a public-good root lists its TSA).
  const base = parseTrustedRoot(stack.trustedRootJson);
  const root: TrustedRoot = {
    ...base,
    timestampAuthorities: [
      ...base.timestampAuthorities,
      { uri: serverTsa.url, certChain: serverTsa.material.chainDer, validFor: { start: new Date(0) } },
    ],
  };
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signWith = (tsaUrl: string) =>
    createSigning({
      key: { kind: 'key-file', privateKey: keys.privateKey, publicKey: keys.publicKey },
      logUrl: stack.log.url,
      tsaUrls: [tsaUrl],
    }).builder;
  const byServerTsa = `${host}/org/tsa-pin-server@${await push(`${host}/org/tsa-pin-server:v1`, 'server TSA')}`;
  await sign(byServerTsa, signWith(serverTsa.timestampUrl));
  const byPolicyTsa = `${host}/org/tsa-pin-policy@${await push(`${host}/org/tsa-pin-policy:v1`, 'policy TSA')}`;
  await sign(byPolicyTsa, signWith(policyTsa.timestampUrl));

  const policy = ivp(
    'tsa-pinned',
    `${host}/org/tsa-pin-*`,
    `key:
  data: |
${indent(keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(), 4)}
ctlog:
  url: ${stack.log.url}
  tsaCertChain: |
${indent(policyTsa.material.chainPem, 4)}
`,
    SIGNED,
  );
  const { make, ask } = admissionFor(servers, root);
  const s = await make(policy);
  const decide = (image: string) => ask(s, image);
  const ok = await decide(byPolicyTsa);
  assert.equal(ok.allowed, true, ok.status?.message);
  const other = await decide(byServerTsa);
  assert.equal(
    other.allowed,
    false,
    'a timestamp from the server root TSA admitted a policy pinning another TSA',
  );
});
