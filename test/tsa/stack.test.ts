import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FulcioSigner, MessageSignatureBundleBuilder, TSAWitness } from '@sigstore/sign';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
import { bundleFromJSON, bundleToJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { startDevStack } from '../../src/cli/up.js';
import { parseSigningConfig } from '../../src/signing-config/config.js';
import { chooseServices } from '../../src/signing-config/resolve.js';
import { requireBinary } from '../helpers/env.js';
import { runSigil } from '../e2e/stack.js';
import { devToken, openssl, SAN } from './helpers.js';

test('sigil up: the TSA is in trusted_root.json and signing_config.json, both served over HTTP; @sigstore/sign + TSAWitness bundles verify with timestampThreshold 1 against that root only', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-up-tsa-'));
  const stack = await startDevStack({ dataDir: dir, portBase: 0, logLevel: 'silent', logWorkers: 0 });
  try {
    const rootText = readFileSync(stack.trustedRootPath, 'utf8');
    const configText = readFileSync(stack.signingConfigPath, 'utf8');
    assert.equal(await (await fetch(`${stack.trustFilesUrl}/trusted_root.json`)).text(), rootText);
    assert.equal(await (await fetch(`${stack.trustFilesUrl}/signing_config.json`)).text(), configText);
    const root = JSON.parse(rootText) as Record<string, unknown> & {
      timestampAuthorities: { uri: string; certChain: { certificates: unknown[] } }[];
    };
    assert.equal(root.mediaType, 'application/vnd.dev.sigstore.trustedroot.v0.2+json');
    assert.equal(root.timestampAuthorities.length, 1);
    assert.equal(root.timestampAuthorities[0]!.uri, stack.tsaUrl);
    assert.equal(root.timestampAuthorities[0]!.certChain.certificates.length, 2);

    const config = parseSigningConfig(configText);
    assert.deepEqual(chooseServices(config, {}), {
      caUrl: stack.caUrl,
      logUrls: [stack.logV2Url],
      rekorV2Urls: [stack.logV2Url],
      tsaUrls: [stack.tsaUrl],
    });

    // Only the TSA can meet the timestamp threshold: no transparency log entry at all.
    const token = await devToken(stack.oidcUrl);
    const bundle = await new MessageSignatureBundleBuilder({
      signer: new FulcioSigner({
        fulcioBaseURL: stack.caUrl,
        identityProvider: { getToken: async () => token },
      }),
      witnesses: [new TSAWitness({ tsaBaseURL: stack.tsaUrl })],
    }).create({ data: Buffer.from('timestamped') });
    const json = bundleToJSON(bundle) as { verificationMaterial: Record<string, unknown> };
    assert.equal(
      (json.verificationMaterial.timestampVerificationData as { rfc3161Timestamps: unknown[] })
        .rfc3161Timestamps.length,
      1,
    );
    const verify = (r: Record<string, unknown>) =>
      new Verifier(toTrustMaterial(TrustedRoot.fromJSON(r)), {
        ctlogThreshold: 1,
        tlogThreshold: 0,
        timestampThreshold: 1,
      }).verify(toSignedEntity(bundleFromJSON(json), Buffer.from('timestamped')), {
        subjectAlternativeName: SAN,
        extensions: { issuer: stack.oidcUrl },
      });
    assert.equal(verify(root).identity?.subjectAlternativeName, SAN);
    assert.throws(
      () => verify({ ...root, timestampAuthorities: [] }),
      'without the TSA in the root it fails',
    );
  } finally {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sigil sign-blob takes the TSA from the data directory signing config (or --timestamp-server-url); OpenSSL verifies the timestamp over the signature', async (t) => {
  if (!requireBinary(t, 'openssl')) return;
  const dir = mkdtempSync(join(tmpdir(), 'sigil-blob-tsa-'));
  const stack = await startDevStack({ dataDir: dir, portBase: 0, logLevel: 'silent', logWorkers: 0 });
  try {
    const file = join(dir, 'artifact.txt');
    writeFileSync(file, 'artifact\n');
    const chainPath = join(dir, 'tsa-chain.pem');
    writeFileSync(chainPath, await (await fetch(`${stack.tsaUrl}/certchain`)).text());
    const sign = async (bundlePath: string, extra: string[]) => {
      const r = await runSigil(['sign-blob', '--yes', '--bundle', bundlePath, ...extra, file], {
        SIGSTORE_ID_TOKEN: await devToken(stack.oidcUrl),
      });
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(readFileSync(bundlePath, 'utf8')) as {
        verificationMaterial: {
          timestampVerificationData?: { rfc3161Timestamps: { signedTimestamp: string }[] };
        };
        messageSignature: { signature: string };
      };
    };
    const viaConfig = await sign(join(dir, 'a.json'), ['--data-dir', dir]);
    const viaFlag = await sign(join(dir, 'b.json'), [
      '--signing-config',
      stack.signingConfigPath,
      '--timestamp-server-url',
      stack.tsaUrl,
    ]);
    for (const [name, b] of [
      ['config', viaConfig],
      ['flag', viaFlag],
    ] as const) {
      const stamps = b.verificationMaterial.timestampVerificationData?.rfc3161Timestamps ?? [];
      assert.equal(stamps.length, 1, name);
      writeFileSync(join(dir, `${name}.tsr`), Buffer.from(stamps[0]!.signedTimestamp, 'base64'));
      writeFileSync(join(dir, `${name}.sig`), Buffer.from(b.messageSignature.signature, 'base64'));
      const ok = openssl([
        'ts',
        '-verify',
        '-data',
        join(dir, `${name}.sig`),
        '-in',
        join(dir, `${name}.tsr`),
        '-CAfile',
        chainPath,
      ]);
      assert.equal(ok.status, 0, ok.out);
      // The timestamp is over the signature bytes, not the artifact.
      const wrong = openssl([
        'ts',
        '-verify',
        '-data',
        file,
        '-in',
        join(dir, `${name}.tsr`),
        '-CAfile',
        chainPath,
      ]);
      assert.notEqual(wrong.status, 0);
    }
    // sigil's own verifier requires and checks the timestamp against the TSA of trusted_root.json.
    const verifyArgs = (bundle: string, root: string) => [
      'verify-blob',
      file,
      '--bundle',
      bundle,
      '--certificate-identity',
      SAN,
      '--certificate-oidc-issuer',
      stack.oidcUrl,
      '--trusted-root',
      root,
      '--use-signed-timestamps',
    ];
    const verified = await runSigil(verifyArgs(join(dir, 'a.json'), stack.trustedRootPath));
    assert.equal(verified.code, 0, verified.stderr);
    const noTsaRoot = join(dir, 'root-without-tsa.json');
    writeFileSync(
      noTsaRoot,
      JSON.stringify({
        ...JSON.parse(readFileSync(stack.trustedRootPath, 'utf8')),
        timestampAuthorities: [],
      }),
    );
    const refused = await runSigil(verifyArgs(join(dir, 'a.json'), noTsaRoot));
    assert.notEqual(refused.code, 0, 'without the TSA in the trusted root the timestamp cannot count');
    assert.match(refused.stderr, /^sigil: error: /m);
    const bad = await runSigil(['sign-blob', '--yes', '--signing-config', join(dir, 'absent.json'), file], {
      SIGSTORE_ID_TOKEN: await devToken(stack.oidcUrl),
    });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^sigil: error: cannot use signing config .*absent\.json/m);
  } finally {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
