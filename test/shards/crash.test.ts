import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { MANIFEST_FILE } from '../../src/log/shards/manifest.js';
import { rotateLog, type RotateStep } from '../../src/log/shards/rotate.js';
import { verifyLogEntry } from '../../src/rekor/verify-entry.js';
import { tempDir } from '../rekor/helpers.js';
import { getJson, grow, logKey, only, openLog, type LogInfoJson } from './helpers.js';

const FIXTURE = new URL('./fixtures/crash-rotate.ts', import.meta.url).pathname;
const N = 3;

function crashRotation(dir: string, step: RotateStep): void {
  const r = spawnSync(process.execPath, ['--import', 'tsx', FIXTURE, dir, step], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(r.signal, 'SIGKILL', `the rotation should die after ${step}: ${r.stderr}`);
}

test('a rotation killed after any step leaves a consistent log that serves, grows and rotates again', async (t) => {
  const template = tempDir(t);
  const server0 = await openLog(template);
  const before = await grow(server0, N);
  const oldTree = server0.treeId;
  await server0.close();

  for (const step of ['locked', 'shard-created', 'manifest-written'] as const) {
    const dir = tempDir(t);
    cpSync(template, dir, { recursive: true });
    crashRotation(dir, step);
    const done = step === 'manifest-written';
    assert.equal(existsSync(join(dir, MANIFEST_FILE)), done, step);
    // A temporary manifest left by a crash in the middle of writing is ignored.
    writeFileSync(join(dir, `${MANIFEST_FILE}.tmp-999999`), '{"version":1,"inactive":[');

    let server = await openLog(dir);
    const info = (await getJson<LogInfoJson>(`${server.url}/api/v1/log`)).json;
    assert.equal(
      server.treeId === oldTree,
      !done,
      `${step}: the old tree stays active unless the manifest was written`,
    );
    assert.equal(info.inactiveShards?.length ?? 0, done ? 1 : 0);
    const [next] = await grow(server, 1);
    assert.equal(next!.logIndex, N, `${step}: the next global index`);
    for (const e of [...before, next!]) {
      const got = only(
        (await getJson<Record<string, never>>(`${server.url}/api/v1/log/entries?logIndex=${e.logIndex}`))
          .json,
      );
      assert.equal(got.uuid, e.uuid, step);
      verifyLogEntry(got, logKey(server));
    }
    await server.close();

    // The interrupted rotation's leftovers do not stand in the way of the next one.
    const r = await rotateLog(dir);
    assert.equal(r.activeOffset, N + 1, step);
    server = await openLog(dir);
    const [after] = await grow(server, 1);
    assert.equal(after!.logIndex, N + 1, step);
    await server.close();
  }
});
