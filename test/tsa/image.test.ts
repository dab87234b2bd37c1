import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDockerRegistry } from '../helpers/registry.js';
import { requireBinary } from '../helpers/env.js';
import { RegistryClient, parseReference, pushImage, readSignatures, tinyImage } from '../../src/oci/index.js';
import { startDevStack } from '../../src/cli/up.js';
import { runSigil } from '../e2e/stack.js';
import { devToken, openssl } from './helpers.js';

test('sigil sign --legacy-layout with the signing config of sigil up attaches the timestamp as cosign does; OpenSSL verifies it over the signature', async (t) => {
  if (!requireBinary(t, 'openssl')) return;
  const registry = await startDockerRegistry(t);
  if (!registry) return;
  const dir = mkdtempSync(join(tmpdir(), 'sigil-image-tsa-'));
  const stack = await startDevStack({ dataDir: dir, portBase: 0, logLevel: 'silent', logWorkers: 0 });
  t.after(async () => {
    await stack.close();
    await registry.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const client = new RegistryClient();
  const repo = `${registry.host}/org/stamped`;
  const digest = await pushImage(client, parseReference(`${repo}:v1`), tinyImage('stamped'));
  const signed = await runSigil(
    ['sign', '--yes', '--legacy-layout', '--data-dir', dir, `${repo}@${digest}`],
    {
      SIGSTORE_ID_TOKEN: await devToken(stack.oidcUrl),
    },
  );
  assert.equal(signed.code, 0, signed.stderr);
  const [layer] = await readSignatures(client, parseReference(`${repo}@${digest}`));
  const annotation = layer!.annotations['dev.sigstore.cosign/rfc3161timestamp'];
  assert.ok(annotation, 'the timestamp annotation is attached');
  const { SignedRFC3161Timestamp } = JSON.parse(annotation) as { SignedRFC3161Timestamp: string };
  writeFileSync(join(dir, 'ts.tsr'), Buffer.from(SignedRFC3161Timestamp, 'base64'));
  writeFileSync(join(dir, 'sig.bin'), Buffer.from(layer!.signature!, 'base64'));
  writeFileSync(join(dir, 'chain.pem'), await (await fetch(`${stack.tsaUrl}/certchain`)).text());
  const ok = openssl([
    'ts',
    '-verify',
    '-data',
    join(dir, 'sig.bin'),
    '-in',
    join(dir, 'ts.tsr'),
    '-CAfile',
    join(dir, 'chain.pem'),
  ]);
  assert.equal(ok.status, 0, ok.out);
});
