import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLog, openSqliteStore } from '../../src/log/index.js';
import { verifyConsistency, verifyInclusion } from '../../src/merkle/index.js';
import { leaf, tempDir, textSigner } from './helpers.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const ROUNDS = Number(process.env.SIGIL_SOAK_ROUNDS ?? '5');

function tryOpenInChild(dir: string): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(FIXTURES, 'open-store.ts'), dir], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

test('a second process on the same data directory is refused with LOCKED; the first keeps working', async (t) => {
  const dir = tempDir(t);
  const log = await createLog({ store: await openSqliteStore({ dir }), signTreeHead: textSigner });
  await log.append(leaf('l', 0));
  assert.equal(tryOpenInChild(dir), 'LOCKED');
  // in the same process too
  await assert.rejects(openSqliteStore({ dir }), (e: unknown) => (e as { code?: string }).code === 'LOCKED');
  const r = await log.append(leaf('l', 1));
  assert.equal(r.entry.index, 1);
  assert.ok(verifyInclusion(1, 2, r.entry.leafHash, r.inclusionProof, r.treeHead.rootHash));
  await log.close();
  assert.equal(tryOpenInChild(dir), 'opened', 'the lock goes away with close');
});

interface Ack {
  index: number;
  leafHash: string;
  size: number;
  root: string;
}

/** Starts the appending child, collects its acknowledgements, SIGKILLs it after `ms` of appending. */
async function appendThenKill(dir: string, ms: number): Promise<Ack[]> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', join(FIXTURES, 'append-forever.ts'), dir, '32'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const acks: Ack[] = [];
  let buffered = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!; // a line cut by the kill is not an acknowledgement
      for (const line of lines) {
        const [kind, a, b, c, e] = line.split(' ');
        if (kind === 'ready' && timer === undefined)
          timer = setTimeout(() => {
            child.kill('SIGKILL');
            resolve();
          }, ms);
        if (kind === 'ack') acks.push({ index: Number(a), leafHash: b!, size: Number(c), root: e! });
      }
    });
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`child exited early (${code}): ${stderr}`));
    });
  });
  await exited;
  return acks;
}

test(`SIGKILL under load loses no acknowledged entry and keeps the tree consistent (${ROUNDS} rounds)`, async (t) => {
  const dir = tempDir(t);
  const allAcks: Ack[] = [];
  const heads = new Map<number, string>();
  for (let round = 0; round < ROUNDS; round++) {
    const acks = await appendThenKill(dir, 150 + Math.floor(Math.random() * 600));
    assert.ok(acks.length > 0, `round ${round}: the child acknowledged appends before the kill`);
    allAcks.push(...acks);
    for (const a of acks) heads.set(a.size, a.root);

    const log = await createLog({ store: await openSqliteStore({ dir }), signTreeHead: textSigner });
    const head = log.latestTreeHead();
    for (const a of allAcks) {
      const e = await log.getEntry(a.index);
      assert.ok(e !== undefined, `acknowledged entry ${a.index} is present after round ${round}`);
      assert.equal(e.leafHash.toString('hex'), a.leafHash, `entry ${a.index} kept its index`);
    }
    const distinct = new Set(allAcks.map((a) => a.leafHash));
    assert.equal(distinct.size, allAcks.length, 'no index was handed out twice');
    assert.equal(new Set(allAcks.map((a) => a.index)).size, allAcks.length, 'no index reused');
    for (const [size, root] of heads) {
      assert.ok(size <= head.size, `acknowledged tree head ${size} is within ${head.size}`);
      const proof = await log.consistencyProof(size, head.size);
      assert.ok(
        verifyConsistency(size, head.size, Buffer.from(root, 'hex'), head.rootHash, proof),
        `tree of ${head.size} is consistent with acknowledged head ${size}`,
      );
    }
    const full = await log.getEntries(Math.max(0, head.size - 100), 100);
    assert.equal(full.length, Math.min(100, head.size), 'indexes are dense up to the tree head');
    await log.close();
  }
});
