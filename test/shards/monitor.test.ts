import assert from 'node:assert/strict';
import { cpSync, copyFileSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { LOG_KEY_FILE } from '../../src/rekor/log-key.js';
import { rotateLog } from '../../src/log/shards/rotate.js';
import { monitorOnce, type MonitorConfig } from '../../src/monitor/index.js';
import { tempDir } from '../rekor/helpers.js';
import { grow, openLog } from './helpers.js';

test('the monitor follows an honest rotation quietly, and alerts when the tree it followed vanished or was frozen short', async (t) => {
  const dataDir = tempDir(t);
  const snapshot = tempDir(t);
  const statePath = join(tempDir(t), 'monitor.json');
  const lines: string[] = [];
  const cfg = (url: string): MonitorConfig => ({ logUrl: url, statePath, report: (l) => lines.push(l) });

  let server = await openLog(dataDir);
  await grow(server, 3);
  await server.close();
  cpSync(dataDir, snapshot, { recursive: true }); // the log at 3 entries

  server = await openLog(dataDir);
  await grow(server, 2);
  let r = await monitorOnce(cfg(server.url));
  assert.deepEqual([r.alerts, r.consistent, r.size], [[], true, 5]);
  await grow(server, 1);
  await server.close();
  await rotateLog(dataDir);

  // Honest rotation: the old tree was frozen at 6, an extension of the 5 the monitor saw.
  server = await openLog(dataDir);
  await grow(server, 2);
  r = await monitorOnce(cfg(server.url));
  assert.deepEqual([r.alerts, r.consistent, r.size], [[], true, 2]);
  const state = JSON.parse(readFileSync(statePath, 'utf8')) as { origin: string };
  assert.equal(state.origin.endsWith(` - ${server.treeId}`), true, 'the monitor now follows the new tree');
  await grow(server, 1);
  r = await monitorOnce(cfg(server.url));
  assert.deepEqual([r.alerts, r.consistent, r.size], [[], true, 3]);
  await server.close();
  assert.deepEqual(lines, []);

  // A fresh tree under the same key, listing no frozen shard of the followed one: a fork.
  const other = tempDir(t);
  copyFileSync(join(dataDir, LOG_KEY_FILE), join(other, LOG_KEY_FILE));
  server = await openLog(other);
  await grow(server, 1);
  r = await monitorOnce(cfg(server.url));
  assert.equal(r.consistent, false);
  assert.deepEqual(
    r.alerts.map((a) => a.kind),
    ['fork'],
  );
  await server.close();

  // A log rotated from an older copy: the frozen tree (3) is shorter than what the monitor saw (5).
  const restore = (): void => {
    rmSync(dataDir, { recursive: true, force: true });
    cpSync(snapshot, dataDir, { recursive: true });
  };
  rmSync(statePath);
  restore();
  server = await openLog(dataDir);
  await grow(server, 2);
  r = await monitorOnce(cfg(server.url)); // the monitor sees 5 entries
  assert.equal(r.size, 5);
  await server.close();
  restore();
  await rotateLog(dataDir);
  server = await openLog(dataDir);
  t.after(() => server.close());
  r = await monitorOnce(cfg(server.url));
  assert.equal(r.consistent, false);
  assert.deepEqual(
    r.alerts.map((a) => a.kind),
    ['rollback'],
  );
});
