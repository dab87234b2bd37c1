import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { bundleFromJSON, bundleToJSON } from '@sigstore/bundle';
import { DSSEBundleBuilder, FulcioSigner, MessageSignatureBundleBuilder, RekorWitness } from '@sigstore/sign';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
import { PUBLIC_SIGSTORE_DIR, requireSharedFile } from '../helpers/env.js';
import { verifyBlob } from '../../src/cli/blob.js';
import { CliError } from '../../src/cli/output.js';
import { isSigilError } from '../../src/errors/index.js';
import { runSigil, runSigilInProcess, startStack } from '../e2e/stack.js';

const SAN = 'https://github.com/org/repo/.github/workflows/CI-CD.yml@refs/heads/main';
const PUBLIC = PUBLIC_SIGSTORE_DIR;

function scratch(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-blob-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The failure code of verifyBlob (SigilError code, or 'CLI' for a usage error). */
async function refusal(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (e) {
    if (isSigilError(e)) return e.code;
    if (e instanceof CliError) return 'CLI';
    throw e;
  }
  return 'verified';
}

test('sigil sign-blob bundles verify with @sigstore/verify; @sigstore/sign bundles verify with sigil verify-blob', async (t) => {
  const stack = await startStack();
  t.after(() => stack.close());
  const dir = scratch(t);
  const file = join(dir, 'artifact.bin');
  writeFileSync(file, 'the artifact the pipeline built\n');
  const bundlePath = join(dir, 'artifact.sigstore.json');

  // sigil sign-blob, as a separate process, token from SIGSTORE_ID_TOKEN.
  const signed = await runSigil(
    [
      'sign-blob',
      '--yes',
      '--fulcio-url',
      stack.ca.url,
      '--rekor-url',
      stack.log.url,
      '--bundle',
      bundlePath,
      file,
    ],
    { SIGSTORE_ID_TOKEN: await stack.oidc.mint() },
  );
  assert.equal(signed.code, 0, signed.stderr);
  assert.match(signed.stdout.trim(), /^[A-Za-z0-9+/]+=*$/, 'the signature is printed');
  const bundleJson = JSON.parse(readFileSync(bundlePath, 'utf8'));
  assert.equal(bundleJson.mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
  assert.ok(bundleJson.verificationMaterial.certificate.rawBytes);
  assert.ok(bundleJson.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.envelope);

  const official = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(stack.trustedRootJson)), {
    tlogThreshold: 1,
    ctlogThreshold: 1,
    timestampThreshold: 0,
  });
  const artifact = readFileSync(file);
  const policy = { subjectAlternativeName: SAN, extensions: { issuer: stack.oidc.issuer } };
  const signer = official.verify(toSignedEntity(bundleFromJSON(bundleJson), artifact), policy);
  assert.equal(signer.identity?.subjectAlternativeName, SAN);
  assert.throws(() =>
    official.verify(toSignedEntity(bundleFromJSON(bundleJson), Buffer.from('other')), policy),
  );

  const flags = {
    bundle: bundlePath,
    trustedRoot: stack.trustedRootPath,
    certificateIdentity: SAN,
    certificateOidcIssuer: stack.oidc.issuer,
  };
  const r = await verifyBlob(file, flags);
  assert.deepEqual(r.checks, ['tlog', 'certificate-chain', 'sct', 'signature', 'identity']);
  writeFileSync(join(dir, 'other.bin'), 'not the artifact\n');
  assert.equal(await refusal(() => verifyBlob(join(dir, 'other.bin'), flags)), 'DIGEST_MISMATCH');
  assert.equal(
    await refusal(() => verifyBlob(file, { ...flags, certificateOidcIssuer: 'https://accounts.google.com' })),
    'IDENTITY_MISMATCH',
  );
  assert.equal(
    await refusal(() => verifyBlob(undefined, flags)),
    'CLI',
    'a message signature needs the file',
  );

  // @sigstore/sign 4.1.1 against sigil's CA and log: message signature and DSSE.
  const token = await stack.oidc.mint();
  const fulcio = () =>
    new FulcioSigner({ fulcioBaseURL: stack.ca.url, identityProvider: { getToken: async () => token } });
  const msg = await new MessageSignatureBundleBuilder({
    signer: fulcio(),
    witnesses: [new RekorWitness({ rekorBaseURL: stack.log.url })],
  }).create({ data: artifact });
  const msgPath = join(dir, 'js-message.json');
  writeFileSync(msgPath, JSON.stringify(bundleToJSON(msg)));
  assert.equal((await verifyBlob(file, { ...flags, bundle: msgPath })).signature.kind, 'messageSignature');
  assert.equal(
    await refusal(() => verifyBlob(join(dir, 'other.bin'), { ...flags, bundle: msgPath })),
    'DIGEST_MISMATCH',
  );

  const statement = Buffer.from(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [
        {
          name: 'artifact.bin',
          digest: {
            sha256: (await import('node:crypto')).createHash('sha256').update(artifact).digest('hex'),
          },
        },
      ],
      predicateType: 'https://example.com/p/v1',
      predicate: {},
    }),
  );
  const dsse = await new DSSEBundleBuilder({
    signer: fulcio(),
    witnesses: [new RekorWitness({ rekorBaseURL: stack.log.url, entryType: 'dsse' })],
  }).create({ data: statement, type: 'application/vnd.in-toto+json' });
  const dssePath = join(dir, 'js-dsse.json');
  writeFileSync(dssePath, JSON.stringify(bundleToJSON(dsse)));
  assert.equal((await verifyBlob(file, { ...flags, bundle: dssePath })).signature.kind, 'dsseEnvelope');
  assert.equal(
    (await verifyBlob(undefined, { ...flags, bundle: dssePath })).signature.kind,
    'dsseEnvelope',
    'DSSE: --bundle alone',
  );
  assert.equal(
    await refusal(() => verifyBlob(join(dir, 'other.bin'), { ...flags, bundle: dssePath })),
    'DIGEST_MISMATCH',
  );
});

test('the real public-Sigstore bundles verify with sigil verify-blob (DSSE: --bundle alone), and not for anyone else', async (t) => {
  if (!requireSharedFile(t, PUBLIC + 'trusted_root.json')) return;
  const flags = {
    trustedRoot: PUBLIC + 'trusted_root.json',
    certificateIdentity: 'brian@dehamer.com',
    certificateOidcIssuer: 'https://github.com/login/oauth',
  };
  const bundles = readdirSync(PUBLIC).filter((f) => f.endsWith('.sigstore'));
  assert.equal(bundles.length, 9);
  for (const b of bundles) {
    const r = await verifyBlob(undefined, { ...flags, bundle: PUBLIC + b });
    assert.deepEqual(r.identity?.subjectAlternativeNames, ['brian@dehamer.com'], b);
    assert.equal(
      await refusal(() =>
        verifyBlob(undefined, { ...flags, bundle: PUBLIC + b, certificateIdentity: 'mallory@example.com' }),
      ),
      'IDENTITY_MISMATCH',
    );
    // The statement itself is not the artifact: given as FILE it is not a subject.
    assert.equal(
      await refusal(() => verifyBlob(PUBLIC + 'statement.json', { ...flags, bundle: PUBLIC + b })),
      'DIGEST_MISMATCH',
    );
  }
  // The same through the command line, with the regexp flags.
  const cli = await runSigilInProcess([
    'verify-blob',
    '--bundle',
    PUBLIC + 'bundleV03-dsse.sigstore',
    '--trusted-root',
    PUBLIC + 'trusted_root.json',
    '--certificate-identity-regexp',
    '^brian@dehamer\\.com$',
    '--certificate-oidc-issuer-regexp',
    '^https://github\\.com/login/oauth$',
  ]);
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stderr, /Verified OK/);
  assert.equal(JSON.parse(cli.stdout).identity.issuer, 'https://github.com/login/oauth');
});

test('generate-key-pair, sign-blob --key and verify-blob --key', async (t) => {
  const stack = await startStack();
  t.after(() => stack.close());
  const dir = scratch(t);
  const saved = process.env.SIGIL_PASSWORD;
  process.env.SIGIL_PASSWORD = 'correct horse';
  t.after(() => {
    if (saved === undefined) delete process.env.SIGIL_PASSWORD;
    else process.env.SIGIL_PASSWORD = saved;
  });
  const prefix = join(dir, 'cosign');
  const gen = await runSigilInProcess(['generate-key-pair', '--output-key-prefix', prefix]);
  assert.equal(gen.code, 0, gen.stderr);
  assert.equal(statSync(`${prefix}.key`).mode & 0o777, 0o600);
  assert.match(readFileSync(`${prefix}.key`, 'utf8'), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
  assert.match(readFileSync(`${prefix}.pub`, 'utf8'), /^-----BEGIN PUBLIC KEY-----/);
  assert.equal(
    (await runSigilInProcess(['generate-key-pair', '--output-key-prefix', prefix])).code,
    1,
    'never overwrites',
  );

  const file = join(dir, 'a.txt');
  writeFileSync(file, 'signed with a key\n');
  const bundle = join(dir, 'a.sigstore.json');
  const s = await runSigilInProcess([
    'sign-blob',
    '--yes',
    '--key',
    `${prefix}.key`,
    '--rekor-url',
    stack.log.url,
    '--bundle',
    bundle,
    file,
  ]);
  assert.equal(s.code, 0, s.stderr);
  const v = await runSigilInProcess([
    'verify-blob',
    '--key',
    `${prefix}.pub`,
    '--trusted-root',
    stack.trustedRootPath,
    '--bundle',
    bundle,
    file,
  ]);
  assert.equal(v.code, 0, v.stderr);
  assert.equal(JSON.parse(v.stdout).mode, 'public-key');
  writeFileSync(join(dir, 'b.txt'), 'something else\n');
  const bad = await runSigilInProcess([
    'verify-blob',
    '--key',
    `${prefix}.pub`,
    '--trusted-root',
    stack.trustedRootPath,
    '--bundle',
    bundle,
    join(dir, 'b.txt'),
  ]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /DIGEST_MISMATCH/);

  process.env.SIGIL_PASSWORD = 'wrong';
  const wrong = await runSigilInProcess([
    'sign-blob',
    '--yes',
    '--key',
    `${prefix}.key`,
    '--rekor-url',
    stack.log.url,
    file,
  ]);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /^sigil: error: .*wrong password/m);
});
