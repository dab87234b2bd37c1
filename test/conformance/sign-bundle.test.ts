// The conformance entrypoint's sign-bundle against sigil's own stack (CA, Rekor v1 log, OIDC
// issuer), with a SigningConfig v0.2 naming them; then verify-bundle of what it wrote.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { conformanceMain } from '../../src/conformance/main.js';
import { startStack } from '../e2e/stack.js';

const SAN = 'https://github.com/org/repo/.github/workflows/CI-CD.yml@refs/heads/main';

async function run(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const code = await conformanceMain(args, { stdout: () => {}, stderr: (s) => (stderr += s) });
  return { code, stderr };
}

test('sign-bundle with --signing-config signs against sigil; verify-bundle accepts it (file and digest)', async (t) => {
  const stack = await startStack();
  t.after(() => stack.close());
  const dir = mkdtempSync(join(tmpdir(), 'sigil-conf-sign-'));
  const file = join(dir, 'a.txt');
  writeFileSync(file, 'signed by the conformance entrypoint\n');
  const service = (url: string) => ({ url, majorApiVersion: 1, validFor: { start: '2020-01-01T00:00:00Z' } });
  const config = join(dir, 'signing_config.json');
  writeFileSync(
    config,
    JSON.stringify({
      mediaType: 'application/vnd.dev.sigstore.signingconfig.v0.2+json',
      caUrls: [service(stack.ca.url)],
      oidcUrls: [],
      rekorTlogUrls: [service(stack.log.url)],
      tsaUrls: [],
    }),
  );
  const bundle = join(dir, 'a.sigstore.json');
  const token = await stack.oidc.mint();
  const signed = await run([
    'sign-bundle',
    '--identity-token',
    token,
    '--bundle',
    bundle,
    '--trusted-root',
    stack.trustedRootPath,
    '--signing-config',
    config,
    file,
  ]);
  assert.equal(signed.code, 0, signed.stderr);
  const written = JSON.parse(readFileSync(bundle, 'utf8'));
  assert.equal(written.verificationMaterial.tlogEntries[0].kindVersion.kind, 'hashedrekord');
  const verify = (input: string) =>
    run([
      'verify-bundle',
      '--bundle',
      bundle,
      '--certificate-identity',
      SAN,
      '--certificate-oidc-issuer',
      stack.oidc.issuer,
      '--trusted-root',
      stack.trustedRootPath,
      input,
    ]);
  assert.equal((await verify(file)).code, 0);
  const digest = `sha256:${createHash('sha256').update(readFileSync(file)).digest('hex')}`;
  assert.equal((await verify(digest)).code, 0);
  const other = await verify(`sha256:${'1'.repeat(64)}`);
  assert.match(other.stderr, /\(DIGEST_MISMATCH\)\n$/);

  // A signing config with a Rekor v2 log: sigil signs to it (here it is down, and that is the error).
  writeFileSync(
    config,
    JSON.stringify({
      mediaType: 'application/vnd.dev.sigstore.signingconfig.v0.2+json',
      caUrls: [service(stack.ca.url)],
      rekorTlogUrls: [service(stack.log.url), { ...service('http://127.0.0.1:1'), majorApiVersion: 2 }],
    }),
  );
  const refused = await run([
    'sign-bundle',
    '--identity-token',
    token,
    '--bundle',
    bundle,
    '--signing-config',
    config,
    file,
  ]);
  assert.equal(refused.code, 1);
  assert.match(
    refused.stderr,
    /cannot reach the Rekor v2 log at http:\/\/127\.0\.0\.1:1.*\(UNAVAILABLE\)\n$/,
  );
});
