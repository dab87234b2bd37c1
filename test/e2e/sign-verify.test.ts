import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDockerRegistry } from '../helpers/registry.js';
import {
  RegistryClient,
  parseReference,
  pushImage,
  tinyImage,
  triangulate,
  MEDIA_TYPES,
} from '../../src/oci/index.js';
import { cosignRekorBundleAnnotation, parseCosignRekorBundle } from '../../src/bundle/index.js';
import { createSigning, resolveImage, signImage } from '../../src/sign/index.js';
import { actionsEnv, runSigil, runSigilInProcess, startStack, type CliResult } from './stack.js';

const WORKFLOW_RE = '^https://github.com/org/repo/.github/workflows/CI-CD.yml@.*';
const SAN = 'https://github.com/org/repo/.github/workflows/CI-CD.yml@refs/heads/main';

const fails = (r: CliResult, ...needles: string[]): void => {
  assert.notEqual(r.code, 0, `expected a failure, got ${r.code}: ${r.stderr}`);
  assert.equal(r.stdout, '', 'nothing verified, nothing on stdout');
  const line = r.stderr
    .trim()
    .split('\n')
    .find((l) => l.startsWith('sigil: error: '));
  assert.ok(line, `no error line (code ${r.code}): ${r.stderr}`);
  for (const n of needles) assert.ok(line.includes(n), `"${n}" not in: ${line}`);
};

test('the seed flow: Actions token → sigil sign --yes IMAGE@digest → sigil verify IMAGE:tag; every broken link fails by name', async (t) => {
  const registry = await startDockerRegistry(t);
  if (!registry) return;
  const stack = await startStack();
  t.after(async () => {
    await stack.close();
    await registry.stop();
  });
  const client = new RegistryClient();
  const repo = `${registry.host}/org/rs-cart`;
  const image = tinyImage('rs-cart 1');
  const digest = await pushImage(client, parseReference(`${repo}:v1`), image);
  await pushImage(client, parseReference(`${repo}:release`), image);

  // 1. sign as the CI job would: no token flag, no URLs: the Actions token-request endpoint and stack.env.
  const signed = await runSigil(['sign', '--yes', `${repo}@${digest}`], {
    ...actionsEnv(stack.oidc),
    SIGIL_DATA_DIR: stack.dir,
  });
  assert.equal(signed.code, 0, signed.stderr);
  assert.match(signed.stderr, /tlog entry created with index: 0/);
  // cosign v3's layout by default: docker-registry 2.8 has no referrers API, so the fallback tag.
  assert.match(
    signed.stderr,
    /Bundle for sha256:[0-9a-f]{64} stored in the fallback tag sha256-[0-9a-f]{64}: /,
  );
  assert.doesNotMatch(signed.stderr + signed.stdout, /eyJ/, 'the token is never printed');

  const verifyArgs = (
    ref: string,
    extra: string[] = [],
    identityRe = WORKFLOW_RE,
    issuer = stack.oidc.issuer,
  ): string[] => [
    'verify',
    '--trusted-root',
    stack.trustedRootPath,
    '--certificate-identity-regexp',
    identityRe,
    '--certificate-oidc-issuer',
    issuer,
    ...extra,
    ref,
  ];

  // The tamper cases: three more images signed in-process with the library, then one annotation changed.
  const tampered: Record<string, string> = {};
  const { builder } = createSigning({
    key: { kind: 'keyless', caUrl: stack.ca.url, tokens: { token: await stack.oidc.mint(), env: {} } },
    logUrl: stack.log.url,
  });
  // Another signer (its own ephemeral key and certificate, same identity) for foreign material.
  const other = createSigning({
    key: { kind: 'keyless', caUrl: stack.ca.url, tokens: { token: await stack.oidc.mint(), env: {} } },
    logUrl: stack.log.url,
  });
  const otherCert = await other.builder.message(Buffer.from('another signature'));
  for (const what of ['signature', 'certificate', 'bundle'] as const) {
    const ref = parseReference(`${repo}:tamper-${what}`);
    const d = await pushImage(client, ref, tinyImage(`tamper ${what}`));
    const r = await signImage({ client, image: await resolveImage(client, ref.withDigest(d)), builder });
    const sigRef = triangulate(ref.withDigest(d));
    const m = await client.getManifest(sigRef);
    const manifest = JSON.parse(m.bytes.toString('utf8'));
    const a = manifest.layers[0].annotations as Record<string, string>;
    if (what === 'signature')
      a['dev.cosignproject.cosign/signature'] = otherCert.signature.signature.toString('base64');
    if (what === 'certificate') {
      a['dev.sigstore.cosign/certificate'] =
        `-----BEGIN CERTIFICATE-----\n${otherCert.signature.material.kind === 'certificate' ? otherCert.signature.material.leaf.toString('base64') : ''}\n-----END CERTIFICATE-----\n`;
    }
    if (what === 'bundle') {
      const e = parseCosignRekorBundle(a['dev.sigstore.cosign/bundle']!);
      a['dev.sigstore.cosign/bundle'] = cosignRekorBundleAnnotation({
        ...e,
        integratedTime: e.integratedTime - 1,
      });
    }
    await client.putManifest(sigRef, Buffer.from(JSON.stringify(manifest)), MEDIA_TYPES.ociManifest);
    assert.equal(r.attached.layers, 1);
    tampered[what] = `${repo}:tamper-${what}`;
  }

  // 2. verify by tag: passes, prints cosign-like JSON and the check list.
  const ok = await runSigil(verifyArgs(`${repo}:v1`));
  assert.equal(ok.code, 0, ok.stderr);
  const out = JSON.parse(ok.stdout) as { critical: Record<string, any>; optional: Record<string, any> }[]; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(out.length, 1);
  assert.equal(out[0]!.critical.image['docker-manifest-digest'], digest);
  assert.equal(out[0]!.critical.identity['docker-reference'], repo);
  assert.equal(out[0]!.optional.Subject, SAN);
  assert.equal(out[0]!.optional.Issuer, stack.oidc.issuer);
  assert.equal(out[0]!.optional['1.3.6.1.4.1.57264.1.1'], stack.oidc.issuer);
  assert.equal(out[0]!.optional.githubWorkflowTrigger, 'push');
  assert.equal(out[0]!.critical.type, 'https://sigstore.dev/cosign/sign/v1');
  assert.match(
    ok.stderr,
    /The code-signing certificate was verified using trusted certificate authority certificates/,
  );
  assert.match(ok.stderr, /Existence of the claims in the transparency log was verified offline/);

  // 3. every broken link, in parallel; then the tag re-pushed to other content.
  const inProcess = runSigilInProcess;
  await pushImage(client, parseReference(`${repo}:unsigned`), tinyImage('never signed'));
  const otherWorkflow = await inProcess(
    verifyArgs(`${repo}:v1`, [], '^https://github.com/org/repo/.github/workflows/release.yml@.*'),
  );
  const otherIssuer = await inProcess(
    verifyArgs(`${repo}:v1`, [], WORKFLOW_RE, 'https://token.actions.githubusercontent.com'),
  );
  const unsigned = await inProcess(verifyArgs(`${repo}:unsigned`));
  const tSig = await inProcess(verifyArgs(tampered.signature!));
  const tCert = await inProcess(verifyArgs(tampered.certificate!));
  const tBundle = await inProcess(verifyArgs(tampered.bundle!));
  const wrongTrigger = await inProcess(
    verifyArgs(`${repo}:v1`, ['--certificate-github-workflow-trigger', 'pull_request']),
  );
  fails(otherWorkflow, 'IDENTITY_MISMATCH', 'subject', SAN);
  fails(otherIssuer, 'IDENTITY_MISMATCH', 'issuer', stack.oidc.issuer);
  fails(unsigned, 'NO_SIGNATURES', 'no signatures found');
  fails(tSig, 'SIGNATURE_MISMATCH', 'signature');
  fails(tCert, 'SIGNATURE_MISMATCH', 'signature');
  fails(tBundle, 'TLOG_FAILED', 'signed entry timestamp');
  fails(wrongTrigger, 'IDENTITY_MISMATCH', 'GitHub workflow trigger');

  const before = await inProcess(verifyArgs(`${repo}:release`));
  assert.equal(before.code, 0, before.stderr);
  await pushImage(client, parseReference(`${repo}:release`), tinyImage('rs-cart 2 (not signed)'));
  // The re-pushed tag fails in a separate process too (what a person would run).
  fails(await runSigil(verifyArgs(`${repo}:release`)), 'NO_SIGNATURES');
  // The signed digest itself still verifies.
  assert.equal((await inProcess(verifyArgs(`${repo}@${digest}`))).code, 0);
});
