// `npm pack`, then `npm install -g` of the tarball into a temporary prefix, run from a directory
// outside the checkout: the installed `sigil` must work on its own (built dist/, addon built by
// its install script), and without the addon through the pure-JS path with one warning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PUBLIC_SIGSTORE_DIR, requireSharedFile } from '../helpers/env.js';

const ALLOWED =
  /^(package\.json|README\.md|LICENSE|bin\/sigil\.js|dist\/.+\.js|native\/(binding\.gyp|[\w-]+\.c)|web\/[\w.-]+)$/;
const NATIVE_WARNING = /^sigil: warning: native addon not built .*pure-JS ECDSA path$/m;

test('the npm package installs into a fresh prefix and works from there', { timeout: 900_000 }, async (t) => {
  const bundle = `${PUBLIC_SIGSTORE_DIR}bundleV03-dsse.sigstore`;
  if (!requireSharedFile(t, bundle)) return;
  const dir = mkdtempSync(join(tmpdir(), 'sigil-pack-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  // --ignore-scripts: dist/ is already built by the test runner (prepare would rebuild it under
  // the feet of tests running beside this one).
  const packed = spawnSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], {
    encoding: 'utf8',
  });
  assert.equal(packed.status, 0, packed.stderr);
  const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
  const shipped = info!.files.map((f) => f.path);
  assert.deepEqual(
    shipped.filter((p) => !ALLOWED.test(p)),
    [],
    'only dist/, bin/sigil.js, native/ sources, web/, README, LICENSE',
  );
  for (const must of [
    'dist/cli/main.js',
    'dist/log/store/sqlite/worker-main.js',
    'native/binding.gyp',
    'LICENSE',
  ])
    assert.ok(shipped.includes(must), must);

  const prefix = join(dir, 'prefix');
  const work = join(dir, 'work');
  spawnSync('mkdir', ['-p', work]);
  const installed = spawnSync(
    'npm',
    [
      'install',
      '-g',
      '--prefix',
      prefix,
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      join(dir, info!.filename),
    ],
    { cwd: work, encoding: 'utf8', timeout: 800_000 },
  );
  assert.equal(installed.status, 0, installed.stderr);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !/^(SIGIL_|SIGSTORE_|ACTIONS_|npm_|NODE_OPTIONS)/.test(k)) env[k] = v;
  env.PATH = `${join(prefix, 'bin')}:${process.env.PATH ?? ''}`;
  const sh = (code: string) =>
    spawnSync('bash', ['-eo', 'pipefail', '-c', code], {
      cwd: work,
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });

  const which = sh('command -v sigil');
  assert.equal(which.stdout.trim(), join(prefix, 'bin', 'sigil'));
  const version = sh('sigil --version');
  assert.equal(version.stdout.trim(), JSON.parse(readFileSync('package.json', 'utf8')).version);

  const publicGood = sh(
    `sigil verify-blob --bundle ${bundle} --trusted-root ${PUBLIC_SIGSTORE_DIR}trusted_root.json ` +
      `--certificate-identity brian@dehamer.com --certificate-oidc-issuer https://github.com/login/oauth`,
  );
  assert.equal(publicGood.status, 0, publicGood.stderr);
  assert.match(publicGood.stderr, /Verified OK/);
  const wrongIdentity = sh(
    `sigil verify-blob --bundle ${bundle} --trusted-root ${PUBLIC_SIGSTORE_DIR}trusted_root.json ` +
      `--certificate-identity someone@else.example --certificate-oidc-issuer https://github.com/login/oauth`,
  );
  assert.equal(wrongIdentity.status, 1, 'another identity is refused');

  // sigil up from the installed copy, then sign-blob + verify-blob against it.
  const up = spawn(
    join(prefix, 'bin', 'sigil'),
    ['up', '--data-dir', join(dir, 'stack'), '--port-base', '0'],
    {
      cwd: work,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  t.after(() => up.kill('SIGTERM'));
  let upOut = '';
  await new Promise<void>((res, rej) => {
    up.stdout.on('data', (d: Buffer) => {
      upOut += d.toString('utf8');
      if (upOut.includes('sigil up: environment')) res();
    });
    up.stderr.on('data', (d: Buffer) => (upOut += d.toString('utf8')));
    up.once('exit', (code) => rej(new Error(`sigil up exited ${code}: ${upOut}`)));
  });
  writeFileSync(join(work, 'artifact.txt'), 'hello from the installed sigil\n');
  const stackEnv = `set -a; . ${join(dir, 'stack', 'stack.env')}; set +a`;
  const verify =
    'sigil verify-blob artifact.txt --bundle artifact.sigstore.json ' +
    `--certificate-identity-regexp '^https://github\\.com/org/repo/' --certificate-oidc-issuer "$SIGIL_OIDC_URL"`;
  const signed = sh(
    `${stackEnv}; export SIGSTORE_ID_TOKEN="$(sigil oidc token)"\n` +
      `sigil sign-blob --yes --bundle artifact.sigstore.json artifact.txt\n${verify}`,
  );
  assert.equal(signed.status, 0, signed.stderr);
  assert.match(signed.stderr, /Verified OK/);
  assert.doesNotMatch(signed.stderr, NATIVE_WARNING, 'the addon was built by the install script');

  // No addon (as after an install without a compiler): the same verification, one warning.
  const pkg = join(prefix, 'lib', 'node_modules', 'sigil');
  renameSync(join(pkg, 'native', 'build'), join(pkg, 'native', 'build.off'));
  const fallback = sh(`${stackEnv}; ${verify}`);
  assert.equal(fallback.status, 0, fallback.stderr);
  assert.match(fallback.stderr, /Verified OK/);
  assert.equal(fallback.stderr.match(new RegExp(NATIVE_WARNING, 'gm'))?.length, 1, fallback.stderr);
  const tampered = sh(`${stackEnv}; echo tampered >> artifact.txt; ${verify}`);
  assert.equal(tampered.status, 1, 'the JS path still refuses a changed file');
});
