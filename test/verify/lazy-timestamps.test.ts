// RFC 3161 verification loads the ASN.1/CMS stack (@peculiar/asn1-*) only for bundles that carry
// timestamps: verifyBundle refuses a timestamped bundle until loadTimestampSupport() has run (fail
// closed, never skipped), and `sigil verify-blob` of a bundle without timestamps loads none of it.
// This file must not import src/timestamp or src/tsa: the first test needs the stack unloaded.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isSigilError } from '../../src/errors/index.js';
import { createTrustMaterial, loadTimestampSupport, verifyBundle } from '../../src/verify/index.js';
import { PUBLIC_SIGSTORE_DIR, requireSharedFile } from '../helpers/env.js';
import { BUNDLE_VERIFY_DIR, conformanceCases, verifyBlobArgs } from '../conformance/cases.js';

const ROOT = new URL('../..', import.meta.url).pathname;

test('verifyBundle refuses a timestamped bundle until RFC 3161 support is loaded, then verifies it', async (t) => {
  if (!requireSharedFile(t, BUNDLE_VERIFY_DIR)) return;
  const c = conformanceCases().find((x) => x.name === 'rekor2-happy-path')!;
  const trust = createTrustMaterial(readFileSync(c.trustedRoot, 'utf8'));
  const bundle: unknown = JSON.parse(readFileSync(c.bundle, 'utf8'));
  const policy = { identities: [{ subject: c.identity, issuer: c.issuer }] };
  const artifact = readFileSync(c.artifact);
  assert.throws(
    () => verifyBundle(trust, bundle, policy, { artifact }),
    (e) => isSigilError(e, 'TIMESTAMP_INVALID') && /not loaded/.test(e.message),
  );
  await loadTimestampSupport();
  const r = verifyBundle(trust, bundle, policy, { artifact });
  assert.equal(r.verified, true);
  assert.equal(r.timestamps?.length, 1);
});

/** The file URLs and CommonJS paths a run of the built CLI loaded. */
function modulesLoaded(args: string[]): { code: number | null; modules: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-modules-'));
  try {
    const log = join(dir, 'modules.txt');
    const hooks = `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  appendFileSync(${JSON.stringify(log)}, url + '\\n');
  return next(url, context);
}`;
    const register = `import Module, { register } from 'node:module';
import { appendFileSync } from 'node:fs';
register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)});
process.on('exit', () => appendFileSync(${JSON.stringify(log)}, Object.keys(Module._cache).join('\\n') + '\\n'));`;
    const r = spawnSync(
      process.execPath,
      ['--import', `data:text/javascript,${encodeURIComponent(register)}`, 'bin/sigil.js', ...args],
      { cwd: ROOT, encoding: 'utf8' },
    );
    assert.equal(r.stderr.includes('Error'), false, r.stderr);
    return { code: r.status, modules: readFileSync(log, 'utf8').split('\n').filter(Boolean) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('sigil verify-blob loads the ASN.1 stack only for a bundle with RFC 3161 timestamps', async (t) => {
  if (!requireSharedFile(t, PUBLIC_SIGSTORE_DIR)) return;
  const plain = modulesLoaded([
    'verify-blob',
    '--bundle',
    `${PUBLIC_SIGSTORE_DIR}bundleV03-dsse.sigstore`,
    '--trusted-root',
    `${PUBLIC_SIGSTORE_DIR}trusted_root.json`,
    '--certificate-identity',
    'brian@dehamer.com',
    '--certificate-oidc-issuer',
    'https://github.com/login/oauth',
  ]);
  assert.equal(plain.code, 0);
  assert.ok(
    plain.modules.some((m) => m.includes('/dist/verify/verifier.js')),
    'the hook saw the verifier',
  );
  const heavy = plain.modules.filter((m) =>
    /@peculiar|asn1js|reflect-metadata|fastify|pino|[/\\]pg[/\\]/.test(m),
  );
  assert.deepEqual(heavy, [], 'no ASN.1, Fastify, pino or pg module on the verify-blob path');
  // Fewer than 120 modules in all (235 when every bundle loaded the ASN.1 stack).
  assert.ok(plain.modules.length < 120, `${plain.modules.length} modules loaded`);

  if (!requireSharedFile(t, BUNDLE_VERIFY_DIR)) return;
  const c = conformanceCases().find((x) => x.name === 'rekor2-happy-path')!;
  const stamped = modulesLoaded(verifyBlobArgs(c, c.artifact));
  assert.equal(stamped.code, 0);
  assert.ok(stamped.modules.some((m) => m.includes('@peculiar/asn1-cms')));
});
