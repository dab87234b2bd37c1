import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { initTUF } from '@sigstore/tuf';
import { startDevStack } from '../../src/cli/up.js';

test('sigil up serves its trusted root and signing config as a TUF repository that @sigstore/tuf reads', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-up-tuf-'));
  const stack = await startDevStack({ dataDir: dir, portBase: 0, logLevel: 'silent', logWorkers: 0 });
  t.after(async () => {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const mirror = `${stack.trustFilesUrl}/tuf`;
  const tuf = await initTUF({
    mirrorURL: mirror,
    rootPath: stack.tufRootPath,
    cachePath: join(dir, 'client-cache'),
    forceInit: true,
  });
  const target = (name: string) => tuf.getTarget(name);
  assert.equal(await target('trusted_root.json'), readFileSync(stack.trustedRootPath, 'utf8'));
  assert.equal(await target('signing_config.v0.2.json'), readFileSync(stack.signingConfigPath, 'utf8'));
  const missing = await fetch(`${mirror}/2.root.json`);
  assert.equal(missing.status, 404);
  assert.equal(((await missing.json()) as { code: string }).code, 'NOT_FOUND');
});
