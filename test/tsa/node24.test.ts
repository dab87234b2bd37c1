import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevStack } from '../../src/cli/up.js';
import { requireNode24, runNode24Json } from '../helpers/node24.js';
import { runSigil } from '../e2e/stack.js';
import { devToken, SAN } from './helpers.js';

test('@sigstore/sign 5.1 (TSAWitness) signs with sigil CA + TSA and @sigstore/verify 4.1 verifies with tsaThreshold 1; it also verifies sigil sign-blob bundles by their timestamp alone', async (t) => {
  if (!requireNode24(t)) return;
  const dir = mkdtempSync(join(tmpdir(), 'sigil-tsa-node24-'));
  const stack = await startDevStack({ dataDir: dir, portBase: 0, logLevel: 'silent', logWorkers: 0 });
  try {
    const data = Buffer.from('timestamped by sigil\n');
    const file = join(dir, 'artifact.txt');
    writeFileSync(file, data);
    const bundlePath = join(dir, 'artifact.sigstore.json');
    const signed = await runSigil(['sign-blob', '--yes', '--data-dir', dir, '--bundle', bundlePath, file], {
      SIGSTORE_ID_TOKEN: await devToken(stack.oidcUrl),
    });
    assert.equal(signed.code, 0, signed.stderr);
    const out = await runNode24Json<{ signed: unknown; results: Record<string, string> }>(
      'tsa-sign-verify.mjs',
      {
        caUrl: stack.caUrl,
        tsaUrl: stack.tsaUrl,
        token: await devToken(stack.oidcUrl),
        trustedRoot: JSON.parse(readFileSync(stack.trustedRootPath, 'utf8')),
        data: data.toString('base64'),
        sigilBundle: JSON.parse(readFileSync(bundlePath, 'utf8')),
        san: SAN,
        issuer: stack.oidcUrl,
      },
      120_000,
    );
    const r = out.results;
    assert.equal(r.sigstoreJsBundle, 'ok');
    assert.notEqual(r.sigstoreJsBundleWithoutTsaInRoot, 'ok');
    assert.equal(r.sigilBundle, 'ok');
    assert.equal(r.sigilBundleWithoutSet, 'ok');
    assert.notEqual(r.sigilBundleWithoutSetOrTsaInRoot, 'ok');
  } finally {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
