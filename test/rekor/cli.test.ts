import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateP256, publicKeyPem } from '../../src/crypto/index.js';
import { RekorClient } from '../../src/rekor/client.js';
import { ROOT, exited, hashedRekord, spawnLog, tempDir } from './helpers.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function sigil(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['bin/sigil.js', ...args],
      { cwd: ROOT, timeout: 120_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** A failed command: non-zero exit, one `sigil: error:` line (plus an optional hint), nothing on stdout. */
function assertCleanFailure(r: Run, pattern: RegExp): void {
  assert.notEqual(r.code, 0, `exit code (stderr: ${r.stderr})`);
  assert.equal(r.stdout, '');
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('sigil: '));
  assert.equal(
    lines.filter((l) => l.startsWith('sigil: error: ')).length,
    1,
    `one error line: ${JSON.stringify(r)}`,
  );
  assert.match(lines[0]!, pattern);
}

test(
  'sigil log serve prints one line, and info/get/search/verify work against it and fail cleanly',
  { timeout: 300_000 },
  async (t) => {
    const dir = tempDir(t);
    const server = await spawnLog(dir);
    t.after(async () => {
      if (server.proc.exitCode === null) server.proc.kill('SIGKILL');
      await exited(server.proc);
    });
    const url = server.url;
    const client = new RekorClient(url);
    const entries = [];
    for (let i = 0; i < 3; i++) {
      const s = hashedRekord(Buffer.from(`cli artifact ${i}`));
      entries.push({ s, e: await client.createEntry(s.entry) });
    }

    const wrongKey = join(dir, 'other.pem');
    writeFileSync(wrongKey, publicKeyPem(generateP256().publicKey));
    const sha0 = `sha256:${entries[0]!.s.digest.toString('hex')}`;
    // Independent invocations run together (each is a process start).
    const [info, infoJ, get, getJ, search, verify, verifyJ] = await Promise.all([
      sigil('log', 'info', '--log-url', url),
      sigil('log', 'info', '--log-url', url, '--json'),
      sigil('log', 'get', '--log-index', '1', '--log-url', url),
      sigil('log', 'get', '--uuid', entries[2]!.e.uuid, '--log-url', url, '--json'),
      sigil('log', 'search', '--sha', sha0, '--log-url', url),
      sigil('log', 'verify', '--log-index', '2', '--log-url', url),
      sigil('log', 'verify', '--uuid', entries[0]!.e.uuid, '--log-url', url, '--json'),
    ]);
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /signed tree head verified/);
    assert.match(info.stdout, /^Tree Size: 3$/m);
    const infoJson = JSON.parse(infoJ.stdout) as { treeSize: number; verified: boolean };
    assert.equal(infoJson.treeSize, 3);
    assert.equal(infoJson.verified, true);

    assert.equal(get.code, 0, get.stderr);
    assert.match(get.stdout, /^Index: 1$/m);
    assert.ok(get.stdout.includes(`UUID: ${entries[1]!.e.uuid}`));
    const getJson = JSON.parse(getJ.stdout) as Record<string, { logIndex: number }>;
    assert.deepEqual(Object.keys(getJson), [entries[2]!.e.uuid]);
    assert.equal(getJson[entries[2]!.e.uuid]!.logIndex, 2);

    assert.equal(search.code, 0, search.stderr);
    assert.equal(search.stdout, `${entries[0]!.e.uuid}\n`);

    assert.equal(verify.code, 0, verify.stderr);
    assert.match(verify.stdout, /Signed entry timestamp verified/);
    assert.match(verify.stdout, /Inclusion proof verified: entry 2 is in the tree of size 3/);
    assert.match(verify.stdout, /Checkpoint verified: "127\.0\.0\.1 - \d+" signed by 127\.0\.0\.1/);
    const verifyJson = JSON.parse(verifyJ.stdout) as { verified: boolean; logIndex: number };
    assert.deepEqual([verifyJson.verified, verifyJson.logIndex], [true, 0]);

    const failures: [string[], RegExp][] = [
      // Pinned to another key, verification fails closed.
      [['log', 'verify', '--log-index', '0', '--public-key', wrongKey, '--log-url', url], /does not verify/],
      [['log', 'get', '--log-index', '99', '--log-url', url], /^sigil: error: no entry at index 99/],
      [['log', 'search', '--sha', 'sha256:xyz', '--log-url', url], /^sigil: error: --sha/],
      [['log', 'info', '--log-url', 'http://127.0.0.1:1'], /^sigil: error: cannot reach the log/],
      // A second server on the same data directory is refused, cleanly.
      [['log', 'serve', '--port', '0', '--data-dir', dir], /in use by another process/],
    ];
    const runs = await Promise.all(failures.map(([args]) => sigil(...args)));
    runs.forEach((r, i) => assertCleanFailure(r, failures[i]![1]));

    server.proc.kill('SIGTERM');
    const exit = await exited(server.proc);
    assert.equal(exit.code, 0);
    assert.ok(!server.stderr().includes('sigil: error'), `no error from serve: ${server.stderr()}`);
  },
);
