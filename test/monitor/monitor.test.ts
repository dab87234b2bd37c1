import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogServer, type LogServer } from '../../src/rekor/server.js';
import { compileIdentity, monitorOnce, type MonitorConfig } from '../../src/monitor/index.js';
import { createEntry, hashedRekord, ROOT, selfSignedCert, tempDir } from '../rekor/helpers.js';

const open = (dataDir: string): Promise<LogServer> =>
  createLogServer({ dataDir, port: 0, logLevel: 'silent', workers: 0 });

async function grow(server: LogServer, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await createEntry(server.url, hashedRekord().entry);
}

/** Copies (or restores) the SQLite files of a closed log. */
function copyDb(from: string, to: string): void {
  for (const f of readdirSync(to)) if (f.startsWith('log.db')) rmSync(join(to, f));
  for (const f of readdirSync(from)) if (f.startsWith('log.db')) copyFileSync(join(from, f), join(to, f));
}

/** The real CLI in a child process (async: the log under test runs in this process). */
function runCli(args: string[]): Promise<{ status: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['bin/sigil.js', 'monitor', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stderr })));
}

test('the monitor stays quiet on honest growth and alerts on a rollback and a fork forged by rewriting the database', async (t) => {
  const dataDir = tempDir(t);
  const snapshot = tempDir(t);
  const statePath = join(tempDir(t), 'monitor.json');
  const hooks: { kind: string; message: string }[] = [];
  const hook = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      hooks.push(JSON.parse(body) as { kind: string; message: string });
      res.end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  t.after(() => hook.close());
  const webhook = `http://127.0.0.1:${(hook.address() as { port: number }).port}/alert`;
  const lines: string[] = [];
  const cfg = (url: string): MonitorConfig => ({
    logUrl: url,
    statePath,
    webhook,
    report: (l) => lines.push(l),
  });

  // A log of 3 entries, saved aside (closed, so the SQLite files are complete).
  let server = await open(dataDir);
  await grow(server, 3);
  await server.close();
  copyDb(dataDir, snapshot);

  server = await open(dataDir);
  await grow(server, 2);
  let r = await monitorOnce(cfg(server.url));
  assert.deepEqual(r.alerts, []);
  assert.equal(r.consistent, true);
  assert.equal(r.size, 5);
  const pinned = JSON.parse(readFileSync(statePath, 'utf8')) as { publicKeyPem: string; size: number };
  assert.equal(pinned.publicKeyPem, server.publicKeyPem, 'the log key is pinned on the first run');

  // Honest growth, twice (and once with no growth at all): quiet.
  await grow(server, 2);
  r = await monitorOnce(cfg(server.url));
  assert.deepEqual([r.alerts, r.consistent, r.size], [[], true, 7]);
  r = await monitorOnce(cfg(server.url));
  assert.deepEqual([r.alerts, r.consistent, r.size], [[], true, 7]);
  const cli = await runCli(['--log-url', server.url, '--state', statePath, '--once']);
  assert.equal(cli.status, 0, cli.stderr);
  assert.equal(cli.stderr, '');
  assert.deepEqual(lines, []);
  assert.deepEqual(hooks, []);
  await server.close();

  // Rollback: the database is replaced by its older copy (3 entries; same key, same tree ID).
  copyDb(snapshot, dataDir);
  server = await open(dataDir);
  r = await monitorOnce(cfg(server.url));
  assert.equal(r.consistent, false);
  assert.deepEqual(
    r.alerts.map((a) => a.kind),
    ['rollback'],
  );
  assert.match(lines.at(-1)!, /^sigil: alert: rollback: tree size went back from 7 to 3$/);
  const rolled = await runCli(['--log-url', server.url, '--state', statePath, '--once']);
  assert.equal(rolled.status, 1, 'rollback exits non-zero');
  assert.match(rolled.stderr, /^sigil: alert: rollback: .*\n$/, 'one line on stderr');

  // Fork: the rolled-back log grows past the size seen, with other entries; same origin.
  await grow(server, 6);
  r = await monitorOnce(cfg(server.url));
  assert.equal(r.consistent, false);
  assert.deepEqual(
    r.alerts.map((a) => a.kind),
    ['fork'],
  );
  assert.match(lines.at(-1)!, /is not an extension of size 7/);
  assert.equal(
    JSON.parse(readFileSync(statePath, 'utf8')).size,
    7,
    'the state keeps the last good checkpoint',
  );
  await server.close();

  // A fresh log on the same key (database deleted): another tree, also a fork.
  for (const f of readdirSync(dataDir))
    if (f.startsWith('log.db') || f === 'tiles') rmSync(join(dataDir, f), { recursive: true });
  assert.ok(existsSync(join(dataDir, 'log-signing-key.pem')));
  server = await open(dataDir);
  await grow(server, 8);
  r = await monitorOnce(cfg(server.url));
  assert.deepEqual(
    r.alerts.map((a) => a.kind),
    ['fork'],
  );
  await server.close();
  assert.deepEqual(
    (hooks as { kind: string }[]).map((h) => h.kind),
    ['rollback', 'fork', 'fork'],
    'each alert reached the webhook (the CLI run had no webhook)',
  );
});

test('--identity alerts on each new entry whose certificate SAN matches, and only on new ones', async (t) => {
  const dataDir = tempDir(t);
  const statePath = join(tempDir(t), 'monitor.json');
  const server = await open(dataDir);
  t.after(() => server.close());
  const signWith = async (email: string): Promise<void> => {
    const cert = await selfSignedCert([{ type: 'email', value: email }]);
    await createEntry(server.url, hashedRekord(undefined, cert, cert.pem).entry);
  };
  await signWith('alice@example.com'); // before the monitor started: not reported
  const lines: string[] = [];
  const cfg: MonitorConfig = {
    logUrl: server.url,
    statePath,
    identity: compileIdentity('^alice@example\\.com$'),
    report: (l) => lines.push(l),
  };
  assert.deepEqual((await monitorOnce(cfg)).alerts, []);
  await signWith('bob@example.com');
  await signWith('Alice@Example.com');
  await grow(server, 1);
  await signWith('alice@example.com.evil.test');
  const r = await monitorOnce(cfg);
  assert.equal(r.consistent, true);
  assert.deepEqual(
    r.alerts.map((a) => [a.kind, a.logIndex, a.subjects]),
    [['identity', 2, ['alice@example.com']]],
  );
  assert.match(
    lines[0]!,
    /^sigil: alert: identity: entry 2 \([0-9a-f]{80}\) is signed for alice@example\.com$/,
  );
  assert.deepEqual((await monitorOnce(cfg)).alerts, [], 'an entry is reported once');
  const cli = await runCli(['--log-url', server.url, '--state', statePath, '--once', '--identity', '(']);
  assert.equal(cli.status, 1);
  assert.match(cli.stderr, /^sigil: error: --identity is not a regular expression/);
});

test('--identity patterns compile for the linear engine, case-insensitive, and cannot backtrack', () => {
  const evil = compileIdentity('^(a+)+$');
  const started = process.hrtime.bigint();
  assert.equal(evil.test(`${'a'.repeat(40)}!`), false);
  assert.ok(process.hrtime.bigint() - started < 1_000_000_000n, 'no exponential backtracking');
  assert.equal(evil.test('aAaA'), true, 'letters match in either case');
  const cases: [string, string, boolean][] = [
    ['^[a-c]+@EXAMPLE\\.com$', 'BcA@example.COM', true],
    ['^[^a-z]+$', 'ABC', false],
    ['^\\x41\\u0062$', 'Ab', true],
    ['^(?<user>ci)@x$', 'CI@X', true],
    ['^\\S+\\.dev$', 'ci.DEV', true],
    ['^\\S+\\.dev$', 'c i.dev', false],
  ];
  for (const [pattern, subject, want] of cases) {
    assert.equal(compileIdentity(pattern).test(subject), want, `${pattern} against ${subject}`);
  }
  assert.throws(() => compileIdentity('^(a)\\1$'), /--identity is not a regular expression/);
});
