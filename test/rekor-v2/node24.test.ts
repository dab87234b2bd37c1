// The current sigstore-js judges sigil's Rekor v2 log: @sigstore/sign 5.1 signs from sigil's
// signing config (CA + v2 log + TSA), @sigstore/verify 4.x verifies with tsa/tlog/ctlog
// thresholds 1 against sigil's trusted root; it verifies sigil's own v2 bundles too, and
// `sigil verify-blob` verifies sigstore-js's.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startDevStack } from '../../src/cli/up.js';
import { conformanceMain } from '../../src/conformance/main.js';
import { requireNode24, runNode24Json } from '../helpers/node24.js';
import { runSigil } from '../e2e/stack.js';
import { devToken, SAN } from '../tsa/helpers.js';

interface TleJson {
  logId: { keyId: string };
  kindVersion: { kind: string; version: string };
  integratedTime?: string;
  inclusionPromise?: unknown;
  inclusionProof: { checkpoint: { envelope: string } };
}
interface BundleJson {
  verificationMaterial: {
    tlogEntries: TleJson[];
    timestampVerificationData?: { rfc3161Timestamps?: unknown[] };
  };
}

/** A bundle whose one log entry is a Rekor v2 entry of sigil's v2 log, with an RFC 3161 timestamp. */
function assertV2Bundle(b: BundleJson, kind: string, v2KeyId: string, what: string): void {
  const [e, ...rest] = b.verificationMaterial.tlogEntries;
  assert.equal(rest.length, 0, `${what}: one tlog entry`);
  assert.deepEqual(e!.kindVersion, { kind, version: '0.0.2' }, what);
  assert.equal(e!.logId.keyId, v2KeyId, `${what}: logged to the v2 log`);
  assert.equal(e!.inclusionPromise, undefined, `${what}: no SET`);
  assert.ok(!e!.integratedTime || e!.integratedTime === '0', `${what}: no integrated time`);
  assert.match(
    e!.inclusionProof.checkpoint.envelope,
    /^127\.0\.0\.1\n\d+\n/,
    `${what}: v2 checkpoint origin`,
  );
  assert.equal(
    b.verificationMaterial.timestampVerificationData?.rfc3161Timestamps?.length,
    1,
    `${what}: timestamp`,
  );
}

test('sigstore-js 5.1 signs blob + in-toto against sigil CA + TSA + Rekor v2 and verifies (thresholds 1); sigil verify-blob agrees; sigstore-js verifies sigil v2 bundles', async (t) => {
  if (!requireNode24(t)) return;
  const dir = mkdtempSync(join(tmpdir(), 'sigil-v2-node24-'));
  const stack = await startDevStack({ dataDir: dir, portBase: 0, logLevel: 'silent', logWorkers: 0 });
  try {
    const root = JSON.parse(readFileSync(stack.trustedRootPath, 'utf8')) as {
      tlogs: { baseUrl: string; logId: { keyId: string } }[];
    };
    const v2KeyId = root.tlogs.find((l) => l.baseUrl === stack.logV2Url)!.logId.keyId;
    const signingConfig = JSON.parse(readFileSync(stack.signingConfigPath, 'utf8')) as {
      rekorTlogUrls: { url: string; majorApiVersion: number }[];
    };
    assert.deepEqual(
      signingConfig.rekorTlogUrls.map((s) => [s.url, s.majorApiVersion]),
      [
        [stack.logV2Url, 2],
        [stack.logUrl, 1],
      ],
    );

    // sigil's own v2 bundles: sign-blob (hashedrekord) and the conformance sign-bundle --in-toto
    // (DSSE logged as a hashedrekord over its PAE).
    const data = Buffer.from('signed onto Rekor v2\n');
    const file = join(dir, 'artifact.txt');
    writeFileSync(file, data);
    const sigilBlobPath = join(dir, 'sigil-blob.sigstore.json');
    const signed = await runSigil(
      ['sign-blob', '--yes', '--data-dir', dir, '--bundle', sigilBlobPath, file],
      {
        SIGSTORE_ID_TOKEN: await devToken(stack.oidcUrl),
      },
    );
    assert.equal(signed.code, 0, signed.stderr);
    const sigilBlob = JSON.parse(readFileSync(sigilBlobPath, 'utf8')) as BundleJson;
    assertV2Bundle(sigilBlob, 'hashedrekord', v2KeyId, 'sigil sign-blob');

    const statement = Buffer.from(
      JSON.stringify({
        _type: 'https://in-toto.io/Statement/v1',
        subject: [{ name: 'artifact.txt', digest: { sha256: 'c'.repeat(64) } }],
        predicateType: 'https://example.com/test/v1',
        predicate: { n: 1 },
      }),
    );
    const statementFile = join(dir, 'statement.json');
    writeFileSync(statementFile, statement);
    const sigilDssePath = join(dir, 'sigil-dsse.sigstore.json');
    let err = '';
    const code = await conformanceMain(
      [
        'sign-bundle',
        '--identity-token',
        await devToken(stack.oidcUrl),
        '--bundle',
        sigilDssePath,
        '--signing-config',
        stack.signingConfigPath,
        '--in-toto',
        statementFile,
      ],
      { stdout: () => {}, stderr: (s) => (err += s) },
    );
    assert.equal(code, 0, err);
    const sigilDsse = JSON.parse(readFileSync(sigilDssePath, 'utf8')) as BundleJson;
    assertV2Bundle(sigilDsse, 'hashedrekord', v2KeyId, 'sigil sign-bundle --in-toto');

    const out = await runNode24Json<{ blob: BundleJson; dsse: BundleJson; results: Record<string, string> }>(
      'rekor-v2-sign-verify.mjs',
      {
        signingConfig,
        token: await devToken(stack.oidcUrl),
        trustedRoot: root,
        v2Url: stack.logV2Url,
        data: data.toString('base64'),
        statement: statement.toString('base64'),
        sigilBlobBundle: sigilBlob,
        sigilDsseBundle: sigilDsse,
        san: SAN,
        issuer: stack.oidcUrl,
      },
      120_000,
    );
    const r = out.results;
    assertV2Bundle(out.blob, 'hashedrekord', v2KeyId, '@sigstore/sign blob');
    // @sigstore/sign 5.1 still sends dsse v0.0.2 requests for envelopes.
    assertV2Bundle(out.dsse, 'dsse', v2KeyId, '@sigstore/sign in-toto');
    assert.equal(r.blob, 'ok');
    assert.equal(r.dsse, 'ok');
    assert.equal(r.sigilBlob, 'ok');
    assert.equal(r.sigilDsse, 'ok');
    assert.notEqual(r.blobWithoutV2LogInRoot, 'ok');
    assert.notEqual(r.blobTamperedCheckpoint, 'ok');
    assert.notEqual(r.sigilBlobOtherArtifact, 'ok');

    // sigil verify-blob on sigstore-js's v2 bundles, requiring the signed timestamp.
    const verify = async (bundle: BundleJson, name: string, artifact?: string) => {
      const path = join(dir, name);
      writeFileSync(path, JSON.stringify(bundle));
      return runSigil([
        'verify-blob',
        '--data-dir',
        dir,
        '--bundle',
        path,
        '--certificate-identity',
        SAN,
        '--certificate-oidc-issuer',
        stack.oidcUrl,
        '--use-signed-timestamps',
        ...(artifact ? [artifact] : []),
      ]);
    };
    const blobOk = await verify(out.blob, 'js-blob.sigstore.json', file);
    assert.equal(blobOk.code, 0, blobOk.stderr);
    const dsseOk = await verify(out.dsse, 'js-dsse.sigstore.json');
    assert.equal(dsseOk.code, 0, dsseOk.stderr);
    writeFileSync(join(dir, 'other.txt'), 'other');
    const wrong = await verify(out.blob, 'js-blob2.sigstore.json', join(dir, 'other.txt'));
    assert.notEqual(wrong.code, 0);
  } finally {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
