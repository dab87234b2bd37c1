import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FulcioSigner, MessageSignatureBundleBuilder, RekorWitness } from '@sigstore/sign';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
import { bundleFromJSON, bundleToJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { startDevStack } from '../../src/cli/up.js';

test('sigil up wires issuer, CA+CT and log; its trusted_root.json verifies a keyless bundle', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-up-'));
  const stack = await startDevStack({ dataDir: dir, portBase: 0, logLevel: 'silent', logWorkers: 0 });
  try {
    const env = Object.fromEntries(
      readFileSync(join(dir, 'stack.env'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.split('=', 2) as [string, string]),
    );
    assert.deepEqual(Object.keys(env).sort(), [
      'SIGIL_CA_URL',
      'SIGIL_LOG_URL',
      'SIGIL_LOG_V2_URL',
      'SIGIL_OIDC_URL',
      'SIGIL_SIGNING_CONFIG',
      'SIGIL_TRUSTED_ROOT',
      'SIGIL_TSA_URL',
    ]);
    const tokenRes = await fetch(`${env.SIGIL_OIDC_URL}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    const { token } = (await tokenRes.json()) as { token: string };
    const bundle = await new MessageSignatureBundleBuilder({
      signer: new FulcioSigner({
        fulcioBaseURL: env.SIGIL_CA_URL!,
        identityProvider: { getToken: async () => token },
      }),
      witnesses: [new RekorWitness({ rekorBaseURL: env.SIGIL_LOG_URL! })],
    }).create({ data: Buffer.from('up') });
    const root = JSON.parse(readFileSync(env.SIGIL_TRUSTED_ROOT!, 'utf8')) as Record<string, unknown>;
    const verifier = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(root)), {
      ctlogThreshold: 1,
      tlogThreshold: 1,
      timestampThreshold: 0,
    });
    const signer = verifier.verify(toSignedEntity(bundleFromJSON(bundleToJSON(bundle)), Buffer.from('up')), {
      subjectAlternativeName: 'https://github.com/org/repo/.github/workflows/CI-CD.yml@refs/heads/main',
      extensions: { issuer: stack.oidcUrl },
    });
    assert.equal(signer.identity?.extensions?.issuer, stack.oidcUrl);
  } finally {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sigil up --log-key: the stack signs with the shared key, and its trusted root names that key', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-up-key-'));
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyFile = join(dir, 'log-key.pem');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const spki = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  const stack = await startDevStack({
    dataDir: join(dir, 'stack'),
    portBase: 0,
    logLevel: 'silent',
    logWorkers: 0,
    logKeyFile: keyFile,
  });
  try {
    const root = JSON.parse(readFileSync(stack.trustedRootPath, 'utf8')) as {
      tlogs: { publicKey: { rawBytes: string } }[];
    };
    assert.equal(root.tlogs[0]!.publicKey.rawBytes, spki, 'the trusted root carries the shared key');
    const served = await (await fetch(`${stack.logUrl}/api/v1/log/publicKey`)).text();
    assert.equal(served.trim(), (publicKey.export({ type: 'spki', format: 'pem' }) as string).trim());
  } finally {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
