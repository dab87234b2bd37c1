import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, rmdirSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { verifyConsistency } from '../../src/merkle/index.js';
import { RekorClient } from '../../src/rekor/client.js';
import type { IdentifiedLogEntry } from '../../src/rekor/log-entry.js';
import { verifyLogEntry } from '../../src/rekor/verify-entry.js';
import { entryMaker, exited, postJson, sleep, spawnServer, stop, within } from './helpers.js';

const FS_SIZE = '6m';

/** A size-limited tmpfs (needs root and mount(2)); undefined with the reason when this machine refuses. */
function mountSmallFs(): { dir: string; unmount(): void } | string {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-full-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${FS_SIZE},mode=0700`, 'tmpfs', dir], {
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    rmdirSync(dir);
    return `cannot mount a small tmpfs here (${(r.stderr || r.error?.message || '').trim()}); the core-level store faults are covered by test/log/faults.test.ts`;
  }
  return {
    dir,
    unmount: () => {
      spawnSync('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Writes a filler file until the filesystem is full; returns its path. */
function fillDisk(dir: string): string {
  const file = join(dir, 'filler');
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
  // The last partial chunk may still fit in smaller writes.
  const fd2 = openSync(file, 'a');
  try {
    for (;;) writeSync(fd2, Buffer.alloc(512, 1));
  } catch {
    /* full */
  } finally {
    closeSync(fd2);
  }
  return file;
}

async function create(
  url: string,
  body: string,
): Promise<{ status: number; entry?: IdentifiedLogEntry; text: string }> {
  const res = await within(20_000, postJson(`${url}/api/v1/log/entries`, body), 'append on a full disk');
  const text = await res.text();
  if (res.status !== 201) return { status: res.status, text };
  const [uuid, e] = Object.entries(JSON.parse(text) as Record<string, Omit<IdentifiedLogEntry, 'uuid'>>)[0]!;
  return { status: 201, entry: { uuid, ...e }, text };
}

test('full disk under `sigil log serve`: appends fail with 503, nothing acknowledged is lost, the log recovers by itself', async (t) => {
  const fs = mountSmallFs();
  if (typeof fs === 'string') {
    t.skip(fs);
    return;
  }
  t.after(() => fs.unmount());
  const dataDir = join(fs.dir, 'log');
  const served = await spawnServer(['log', 'serve', '--port', '0', '--data-dir', dataDir, '--workers', '1']);
  t.after(() => stop(served.proc, 'SIGKILL'));
  const client = new RekorClient(served.url);
  const key = createPublicKey(await client.publicKey());
  const next = entryMaker();
  const acks: IdentifiedLogEntry[] = [];
  for (let i = 0; i < 20; i++) {
    const r = await create(served.url, next());
    assert.equal(r.status, 201, r.text);
    acks.push(r.entry!);
  }

  const filler = fillDisk(fs.dir);
  const statuses = new Map<number, number>();
  let sawFull = false;
  for (let i = 0; i < 400 && !sawFull; i++) {
    const r = await create(served.url, next());
    statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    if (r.status === 201) acks.push(r.entry!);
    else {
      assert.equal(r.status, 503, `a full disk answers 503, not ${r.status}: ${r.text}`);
      assert.equal((JSON.parse(r.text) as { code: string }).code, 'STORAGE_FAILURE');
      sawFull = true;
    }
  }
  assert.ok(sawFull, `appends on a full disk eventually fail (${JSON.stringify([...statuses])})`);
  // More attempts while full: still 503, never 5xx of another kind, never a hang; the process stays up.
  for (let i = 0; i < 10; i++) {
    const r = await create(served.url, next());
    if (r.status === 201) acks.push(r.entry!);
    else assert.equal(r.status, 503, r.text);
  }
  assert.equal(served.proc.exitCode, null, 'the log process survives a full disk');
  // Reads keep working while the disk is full.
  const during = await client.getEntryByIndex(acks[0]!.logIndex);
  assert.equal(during?.uuid, acks[0]!.uuid);

  // Space returns: the log recovers without a restart.
  rmSync(filler);
  let recovered: IdentifiedLogEntry | undefined;
  const deadline = Date.now() + 30_000;
  while (!recovered && Date.now() < deadline) {
    const r = await create(served.url, next());
    if (r.status === 201) recovered = r.entry;
    else {
      assert.equal(r.status, 503, r.text);
      await sleep(200);
    }
  }
  assert.ok(recovered, 'appends succeed again once space returns, without a restart');
  acks.push(recovered);
  verifyLogEntry(recovered, key);

  const checkAll = async (c: RekorClient): Promise<void> => {
    const info = await c.logInfo();
    const root = Buffer.from(info.rootHash, 'hex');
    const indexes = new Set(acks.map((a) => a.logIndex));
    assert.equal(indexes.size, acks.length, 'no index acknowledged twice');
    for (const a of acks) {
      const got = await c.getEntryByIndex(a.logIndex);
      assert.equal(got?.uuid, a.uuid, `acknowledged entry ${a.logIndex} kept`);
      const p = a.verification.inclusionProof;
      const proof = await c.consistencyProof(p.treeSize, info.treeSize);
      assert.ok(
        verifyConsistency(
          p.treeSize,
          info.treeSize,
          Buffer.from(p.rootHash, 'hex'),
          root,
          proof.hashes.map((h) => Buffer.from(h, 'hex')),
        ),
        `checkpoint ${p.treeSize} consistent with ${info.treeSize}`,
      );
    }
  };
  await checkAll(client);

  // And after a restart, the same.
  served.proc.kill('SIGTERM');
  const exit = await exited(served.proc);
  assert.equal(exit.code, 0, served.stderr());
  const again = await spawnServer(['log', 'serve', '--port', '0', '--data-dir', dataDir, '--workers', '1']);
  t.after(() => stop(again.proc, 'SIGKILL'));
  await checkAll(new RekorClient(again.url));
  t.diagnostic(`acknowledged=${acks.length} answers-while-full=${JSON.stringify([...statuses])}`);
});
