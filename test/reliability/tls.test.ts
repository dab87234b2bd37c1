import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { httpsGet } from '../helpers/https-get.js';
import { generateServingTls } from '../../src/admission/tls.js';
import { ROOT, spawnServer, stop, tempDir } from './helpers.js';

const SERVERS: { name: string; args: (dir: string) => string[]; path: string }[] = [
  {
    name: 'log',
    args: (dir) => ['log', 'serve', '--port', '0', '--data-dir', join(dir, 'log'), '--workers', '0'],
    path: '/api/v1/log',
  },
  {
    name: 'ca',
    args: (dir) => [
      'ca',
      'serve',
      '--port',
      '0',
      '--data-dir',
      join(dir, 'ca'),
      '--oidc-issuers',
      join(dir, 'issuers.yaml'),
    ],
    path: '/api/v2/configuration',
  },
  {
    name: 'oidc',
    args: (dir) => [
      'oidc',
      'serve',
      '--port',
      '0',
      '--data-dir',
      join(dir, 'oidc'),
      '--public-url',
      'https://localhost',
    ],
    path: '/.well-known/openid-configuration',
  },
];

test('every server serves HTTPS with --tls-cert/--tls-key; plain HTTP on that port is refused; half a pair is an error', async (t) => {
  const dir = tempDir(t);
  const tls = await generateServingTls(['localhost']);
  writeFileSync(join(dir, 'tls.crt'), tls.cert);
  writeFileSync(join(dir, 'tls.key'), tls.key, { mode: 0o600 });
  writeFileSync(
    join(dir, 'issuers.yaml'),
    '- issuerUrl: https://token.actions.githubusercontent.com\n  type: github-workflow\n',
  );
  for (const s of SERVERS) {
    const served = await spawnServer([
      ...s.args(dir),
      '--tls-cert',
      join(dir, 'tls.crt'),
      '--tls-key',
      join(dir, 'tls.key'),
    ]);
    try {
      assert.match(served.url, /^https:\/\//, `${s.name} listens on https`);
      const r = await httpsGet(`${served.url}${s.path}`, tls.caPem);
      assert.equal(r.status, 200, `${s.name} over TLS: ${r.text}`);
      const plain = await fetch(`${served.url.replace('https:', 'http:')}${s.path}`).then(
        (res) => res.status,
        () => 'refused',
      );
      assert.ok(plain === 'refused' || plain === 400, `${s.name}: plain HTTP is not served (${plain})`);
    } finally {
      await stop(served.proc);
    }
    const half = spawnSync(
      process.execPath,
      ['bin/sigil.js', ...s.args(dir), '--tls-cert', join(dir, 'tls.crt')],
      {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    assert.notEqual(half.status, 0, `${s.name}: --tls-cert without --tls-key fails`);
    assert.match(half.stderr, /sigil: error: --tls-cert and --tls-key go together/);
  }
});
