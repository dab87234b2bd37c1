import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { verifyConsistency } from '../../src/merkle/index.js';
import { RekorClient } from '../../src/rekor/client.js';
import type { IdentifiedLogEntry } from '../../src/rekor/log-entry.js';
import { verifyLogEntry } from '../../src/rekor/verify-entry.js';
import { exited, hashedRekord, spawnLog, tempDir } from './helpers.js';

interface Ack {
  entry: IdentifiedLogEntry;
}

/** After a restart: every acknowledged entry is there unchanged, every old checkpoint is consistent with the new root, and the next index is fresh. */
async function checkAfterRestart(url: string, acks: Ack[], publicKeyPem: string): Promise<void> {
  const client = new RekorClient(url);
  assert.equal(await client.publicKey(), publicKeyPem, 'same log key after restart');
  const info = await client.logInfo();
  const maxIndex = Math.max(-1, ...acks.map((a) => a.entry.logIndex));
  assert.ok(
    info.treeSize >= maxIndex + 1,
    `tree size ${info.treeSize} covers every acknowledged index (${maxIndex})`,
  );
  const indexes = new Set<number>();
  for (const { entry } of acks) {
    assert.ok(!indexes.has(entry.logIndex), `index ${entry.logIndex} acknowledged twice`);
    indexes.add(entry.logIndex);
  }
  // Every acknowledged entry, at its index, with the same body.
  for (let i = 0; i < acks.length; i += 10) {
    const batch = acks.slice(i, i + 10);
    const got = await client.retrieveEntries({ logIndexes: batch.map((a) => a.entry.logIndex) });
    assert.equal(got.length, batch.length);
    got.forEach((g, j) => {
      assert.equal(g.uuid, batch[j]!.entry.uuid);
      assert.equal(g.body, batch[j]!.entry.body);
    });
  }
  // Every checkpoint handed out before is consistent with the root after the restart.
  const newRoot = Buffer.from(info.rootHash, 'hex');
  const seen = new Map<number, string>();
  for (const { entry } of acks)
    seen.set(entry.verification.inclusionProof.treeSize, entry.verification.inclusionProof.rootHash);
  for (const [size, rootHex] of seen) {
    const p = await client.consistencyProof(size, info.treeSize);
    const ok = verifyConsistency(
      size,
      info.treeSize,
      Buffer.from(rootHex, 'hex'),
      newRoot,
      p.hashes.map((h) => Buffer.from(h, 'hex')),
    );
    assert.ok(ok, `checkpoint of size ${size} is consistent with the tree after restart`);
  }
  // The next entry gets a fresh index.
  const next = await client.createEntry(hashedRekord().entry);
  assert.equal(next.logIndex, info.treeSize);
  verifyLogEntry(next, createPublicKey(publicKeyPem));
}

test(
  'SIGTERM then restart: nothing acknowledged is lost, no index reused, old checkpoints stay consistent',
  { timeout: 180_000 },
  async (t) => {
    const dir = tempDir(t);
    const first = await spawnLog(dir);
    const client = new RekorClient(first.url);
    const publicKeyPem = await client.publicKey();
    const acks: Ack[] = [];
    for (let round = 0; round < 4; round++) {
      const batch = await Promise.all(
        Array.from({ length: 8 }, () => client.createEntry(hashedRekord().entry)),
      );
      acks.push(...batch.map((entry) => ({ entry })));
    }
    for (const a of acks.slice(0, 5)) verifyLogEntry(a.entry, createPublicKey(publicKeyPem));
    first.proc.kill('SIGTERM');
    const exit = await exited(first.proc);
    assert.equal(exit.code, 0, `clean exit on SIGTERM (stderr: ${first.stderr()})`);

    const second = await spawnLog(dir);
    t.after(async () => {
      second.proc.kill('SIGTERM');
      await exited(second.proc);
    });
    await checkAfterRestart(second.url, acks, publicKeyPem);
  },
);

test(
  'SIGKILL in the middle of a load: every acknowledged entry survives and the tree stays consistent',
  { timeout: 180_000 },
  async (t) => {
    const dir = tempDir(t);
    const first = await spawnLog(dir);
    const client = new RekorClient(first.url);
    const publicKeyPem = await client.publicKey();
    const acks: Ack[] = [];
    let stop = false;
    let failures = 0;
    const writers = Array.from({ length: 24 }, async () => {
      while (!stop) {
        try {
          acks.push({ entry: await client.createEntry(hashedRekord().entry) });
        } catch {
          failures++; // requests in flight at the kill fail: they were never acknowledged
          return;
        }
      }
    });
    // Kill once a good number of entries is acknowledged, while writers are still busy.
    const started = Date.now();
    while (acks.length < 200 && Date.now() - started < 20_000) await new Promise((r) => setTimeout(r, 20));
    first.proc.kill('SIGKILL');
    await exited(first.proc);
    stop = true;
    await Promise.all(writers);
    assert.ok(acks.length >= 50, `enough load before the kill (${acks.length} acknowledged)`);
    assert.ok(failures > 0, 'the kill happened with requests in flight');

    const second = await spawnLog(dir);
    t.after(async () => {
      second.proc.kill('SIGTERM');
      await exited(second.proc);
    });
    await checkAfterRestart(second.url, acks, publicKeyPem);
  },
);
