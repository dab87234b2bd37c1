import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  RegistryClient,
  parseReference,
  pushIndex,
  readBundleReferrers,
  tinyImage,
} from '../../src/oci/index.js';
import { createRegistryServer } from '../../src/demo/registry/index.js';
import { runSigilInProcess, startStack } from '../e2e/stack.js';
import { WORKFLOW_RE } from './helpers.js';

test('multi-arch: sign --recursive signs the index and every platform manifest; verify accepts the index or the selected platform; a Windows-only index fails naming its platforms', async (t) => {
  const stack = await startStack();
  const reg = await createRegistryServer({ port: 0, logLevel: 'silent' });
  t.after(async () => {
    await reg.close();
    await stack.close();
  });
  const client = new RegistryClient();
  const amd64 = tinyImage('multi amd64');
  const arm64 = tinyImage('multi arm64');
  const repo = `${reg.host}/org/multi`;
  const index = await pushIndex(client, parseReference(`${repo}:v1`), [
    { image: amd64, platform: { os: 'linux', architecture: 'amd64' } },
    { image: arm64, platform: { os: 'linux', architecture: 'arm64' } },
  ]);
  const sign = async (image: string, extra: string[] = []) =>
    runSigilInProcess([
      'sign',
      '--yes',
      '--fulcio-url',
      stack.ca.url,
      '--rekor-url',
      stack.log.url,
      '--identity-token',
      await stack.oidc.mint(),
      ...extra,
      image,
    ]);
  const verify = (image: string, extra: string[] = []) =>
    runSigilInProcess([
      'verify',
      '--trusted-root',
      stack.trustedRootPath,
      '--certificate-identity-regexp',
      WORKFLOW_RE,
      '--certificate-oidc-issuer',
      stack.oidc.issuer,
      ...extra,
      image,
    ]);

  // Only the arm64 manifest signed: linux/amd64 (the default) does not verify the index, linux/arm64 does.
  const s1 = await sign(`${repo}@${arm64.digest}`);
  assert.equal(s1.code, 0, s1.stderr);
  const none = await verify(`${repo}:v1`);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no signatures found/);
  const arm = await verify(`${repo}:v1`, ['--platform', 'linux/arm64']);
  assert.equal(arm.code, 0, arm.stderr);
  assert.equal(JSON.parse(arm.stdout)[0].critical.image['docker-manifest-digest'], arm64.digest);
  const badPlatform = await verify(`${repo}:v1`, ['--platform', 'linux']);
  assert.equal(badPlatform.code, 1);
  assert.match(badPlatform.stderr, /invalid platform "linux"/);

  // --recursive: the index and both children.
  const s2 = await sign(`${repo}@${index}`, ['--recursive']);
  assert.equal(s2.code, 0, s2.stderr);
  for (const d of [index, amd64.digest, arm64.digest])
    assert.ok((await readBundleReferrers(client, parseReference(`${repo}@${d}`))).length >= 1, d);
  const all = await verify(`${repo}:v1`);
  assert.equal(all.code, 0, all.stderr);
  const digests = (JSON.parse(all.stdout) as { critical: { image: Record<string, string> } }[]).map(
    (o) => o.critical.image['docker-manifest-digest'],
  );
  assert.deepEqual(new Set(digests), new Set([index, amd64.digest]));
  // --recursive with the legacy layout is refused before anything is signed.
  const refused = await sign(`${repo}@${index}`, ['--recursive', '--legacy-layout']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /--recursive needs the v3 layout/);

  const win = tinyImage('windows only');
  await pushIndex(client, parseReference(`${reg.host}/org/win:v1`), [
    { image: win, platform: { os: 'windows', architecture: 'amd64' } },
  ]);
  const w = await verify(`${reg.host}/org/win:v1`);
  assert.equal(w.code, 1);
  assert.match(
    w.stderr,
    /^sigil: error: image index .* has no manifest for platform linux\/amd64 \(it has: windows\/amd64\)/m,
  );
});
