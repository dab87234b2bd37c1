import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { exited, ROOT, sleep, tempDir } from './helpers.js';

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

/** Runs the CLI with stdout/stderr in files under `logs`. */
function cli(logs: string, name: string, args: string[], env: Record<string, string>): number | null {
  const out = openSync(join(logs, `${name}.stdout`), 'w');
  const err = openSync(join(logs, `${name}.stderr`), 'w');
  try {
    const r = spawnSync(process.execPath, ['bin/sigil.js', ...args], {
      cwd: ROOT,
      stdio: ['ignore', out, err],
      env: { ...process.env, SIGIL_LOG_LEVEL: 'trace', ...env },
      timeout: 60_000,
    });
    return r.status;
  } finally {
    closeSync(out);
    closeSync(err);
  }
}

test('a full flow (dev issuer → CA → log → sign) at trace log level: no token or private key in any log, output or stored file; key files are 0600', async (t) => {
  const dir = tempDir(t);
  const data = join(dir, 'data');
  const logs = join(dir, 'logs');
  spawnSync('mkdir', ['-p', data, logs]);
  const out = openSync(join(logs, 'stack.stdout'), 'w');
  const err = openSync(join(logs, 'stack.stderr'), 'w');
  const stack = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'test/reliability/fixtures/debug-stack.ts'), data],
    {
      cwd: ROOT,
      stdio: ['ignore', out, err],
    },
  );
  t.after(() => {
    if (stack.exitCode === null) stack.kill('SIGKILL');
  });
  let env: Record<string, string> | undefined;
  for (let i = 0; i < 600 && !env; i++) {
    const m = /^READY (.*)$/m.exec(readFileSync(join(logs, 'stack.stdout'), 'utf8'));
    if (m) env = JSON.parse(m[1]!) as Record<string, string>;
    else if (stack.exitCode !== null)
      assert.fail(`stack exited: ${readFileSync(join(logs, 'stack.stderr'), 'utf8')}`);
    else await sleep(100);
  }
  assert.ok(env, 'stack started');

  const token = (
    (await (
      await fetch(`${env.SIGIL_OIDC_URL}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      })
    ).json()) as { token: string }
  ).token;
  const artifact = join(dir, 'artifact.txt');
  writeFileSync(artifact, 'hello sigil');
  const cliEnv = { ...env, SIGIL_DATA_DIR: data };
  // Keyless signing with the token from the environment, and from a flag.
  assert.equal(
    cli(logs, 'sign-env', ['sign-blob', '--yes', artifact, '--bundle', join(logs, 'a.bundle.json')], {
      ...cliEnv,
      SIGSTORE_ID_TOKEN: token,
    }),
    0,
    readFileSync(join(logs, 'sign-env.stderr'), 'utf8'),
  );
  assert.equal(
    cli(
      logs,
      'sign-flag',
      ['sign-blob', '--yes', artifact, '--identity-token', token, '--bundle', join(logs, 'b.bundle.json')],
      cliEnv,
    ),
    0,
  );
  assert.equal(
    cli(
      logs,
      'verify',
      [
        'verify-blob',
        artifact,
        '--bundle',
        join(logs, 'a.bundle.json'),
        '--certificate-identity-regexp',
        '.*',
        '--certificate-oidc-issuer',
        env.SIGIL_OIDC_URL!,
      ],
      cliEnv,
    ),
    0,
    readFileSync(join(logs, 'verify.stderr'), 'utf8'),
  );
  // Failure paths, where a careless error message would echo what it was given.
  assert.notEqual(
    cli(
      logs,
      'sign-no-ca',
      ['sign-blob', '--yes', artifact, '--identity-token', token, '--fulcio-url', 'http://127.0.0.1:9'],
      cliEnv,
    ),
    0,
  );
  const wrongAud = (
    (await (
      await fetch(`${env.SIGIL_OIDC_URL}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"aud":"other"}',
      })
    ).json()) as { token: string }
  ).token;
  assert.notEqual(
    cli(logs, 'sign-bad-token', ['sign-blob', '--yes', artifact, '--identity-token', wrongAud], cliEnv),
    0,
  );
  const refused = await fetch(`${env.SIGIL_CA_URL}/api/v2/signingCert`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      publicKeyRequest: { publicKey: { content: 'not a key' }, proofOfPossession: 'AAAA' },
    }),
  });
  writeFileSync(join(logs, 'ca-refusal.json'), await refused.text());
  assert.equal(refused.status, 400);

  stack.kill('SIGTERM');
  await exited(stack);
  closeSync(out);
  closeSync(err);

  const logText = readFileSync(join(logs, 'stack.stdout'), 'utf8');
  assert.match(
    logText,
    /"level":\d+/,
    'the services did log (pino JSON lines), so the search below is not vacuous',
  );

  // What must never appear: the tokens (whole or their signature part) and any private key material.
  const keyFiles = walk(data).filter((f) => readFileSync(f, 'latin1').includes('PRIVATE KEY'));
  const secrets: [string, string][] = [
    ['token', token],
    ['token signature', token.split('.')[2]!],
    ['wrong-audience token', wrongAud],
  ];
  for (const f of keyFiles) {
    const b64 = readFileSync(f, 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('-----'));
    secrets.push([`key material of ${f}`, b64.slice(1, 3).join('')]);
  }
  for (const file of walk(logs)) {
    const text = readFileSync(file, 'latin1');
    for (const [what, secret] of secrets) assert.ok(!text.includes(secret), `${what} found in ${file}`);
    assert.ok(!text.includes('PRIVATE KEY'), `a private key in ${file}`);
  }
  for (const file of walk(data).filter((f) => !keyFiles.includes(f))) {
    const text = readFileSync(file, 'latin1');
    for (const [what, secret] of secrets.slice(0, 3))
      assert.ok(!text.includes(secret), `${what} stored in ${file}`);
  }

  // Every file holding a private key is 0600, in a directory only its owner can enter.
  const names = keyFiles.map((f) => f.slice(data.length + 1)).sort();
  assert.ok(
    keyFiles.length >= 5,
    `issuer, CA root, CA intermediate, CT and log keys on disk: ${names.join(', ')}`,
  );
  for (const f of keyFiles) {
    assert.equal(statSync(f).mode & 0o777, 0o600, `${f} is 0600`);
    const parent = f.slice(0, f.lastIndexOf('/'));
    assert.equal(statSync(parent).mode & 0o077, 0, `${parent} is closed to group and others`);
  }
  // The key-pair command too.
  assert.equal(
    cli(logs, 'keys', ['generate-key-pair', '--output-key-prefix', join(dir, 'cosign')], {
      SIGIL_PASSWORD: 'pw',
    }),
    0,
  );
  assert.equal(statSync(join(dir, 'cosign.key')).mode & 0o777, 0o600);
  t.diagnostic(`key files checked: ${names.join(', ')}, cosign.key`);
});
