import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { ROOT, tempDir } from '../rekor/helpers.js';
import { grow, openLog } from './helpers.js';

function sigil(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['bin/sigil.js', ...args],
      { cwd: ROOT, timeout: 120_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

test(
  'sigil log rotate refuses a running log, rotates a stopped one; sigil log info and verify work across the shards',
  { timeout: 300_000 },
  async (t) => {
    const dataDir = tempDir(t);
    let server = await openLog(dataDir);
    await grow(server, 3);
    const oldTree = server.treeId;

    const busy = await sigil('log', 'rotate', '--data-dir', dataDir);
    assert.notEqual(busy.code, 0);
    assert.match(busy.stderr, /^sigil: error: the log in .* is in use/m);
    assert.match(busy.stderr, /stop `sigil log serve`/);
    await server.close();

    const rotated = await sigil('log', 'rotate', '--data-dir', dataDir);
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.match(rotated.stdout, new RegExp(`^Froze tree ${oldTree} at size 3 `, 'm'));
    assert.match(rotated.stdout, /take global log indexes from 3$/m);

    server = await openLog(dataDir);
    t.after(() => server.close());
    await grow(server, 2);
    const info = await sigil('log', 'info', '--log-url', server.url);
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /^Tree Size: 2$/m);
    assert.match(info.stdout, new RegExp(`^Tree ID: ${server.treeId}$`, 'm'));
    assert.match(info.stdout, /^Global Log Indexes: 3 onward/m);
    assert.match(
      info.stdout,
      new RegExp(`^Inactive Shard: tree ${oldTree}, size 3, global indexes 0–2, .*verified`, 'm'),
    );
    const json = JSON.parse((await sigil('log', 'info', '--log-url', server.url, '--json')).stdout) as {
      inactiveShards: { treeID: string }[];
    };
    assert.deepEqual(
      json.inactiveShards.map((s) => s.treeID),
      [oldTree],
    );

    for (const index of ['1', '4']) {
      const v = await sigil('log', 'verify', '--log-url', server.url, '--log-index', index);
      assert.equal(v.code, 0, v.stderr);
      assert.match(v.stdout, /^Checkpoint verified/m);
    }
  },
);
