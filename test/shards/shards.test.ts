import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCheckpoint, parseSignedNote } from '../../src/bundle/signed-note.js';
import { verifyConsistency } from '../../src/merkle/index.js';
import { rotateLog } from '../../src/log/shards/rotate.js';
import type { IdentifiedLogEntry } from '../../src/rekor/log-entry.js';
import type { LogServer } from '../../src/rekor/server.js';
import { verifyLogEntry } from '../../src/rekor/verify-entry.js';
import { createEntry, hashedRekord, post, tempDir } from '../rekor/helpers.js';
import { getJson, grow, logKey, only, openLog, treeHex, type LogInfoJson } from './helpers.js';

const N = 5;
const M = 4;

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** Everything a client of the rotated log sees, checked against the entries as they were created. */
async function checkAll(server: LogServer, oldTree: string, created: IdentifiedLogEntry[]): Promise<void> {
  const key = logKey(server);
  const info = (await getJson<LogInfoJson>(`${server.url}/api/v1/log`)).json;
  assert.equal(info.treeSize, created.length - N);
  assert.equal(info.treeID, server.treeId);
  assert.equal(info.inactiveShards?.length, 1);
  const old = info.inactiveShards[0]!;
  assert.equal(old.treeID, oldTree);
  assert.equal(old.treeSize, N);
  // The frozen shard's final checkpoint is the one the log signed for its last entry.
  assert.equal(old.signedTreeHead, created[N - 1]!.verification.inclusionProof.checkpoint);
  assert.equal(
    parseCheckpoint(parseSignedNote(old.signedTreeHead).text).origin.endsWith(` - ${oldTree}`),
    true,
  );

  for (let i = 0; i < created.length; i++) {
    const want = created[i]!;
    const byIndex = only(
      (await getJson<Record<string, never>>(`${server.url}/api/v1/log/entries?logIndex=${i}`)).json,
    );
    const byUuid = only(
      (await getJson<Record<string, never>>(`${server.url}/api/v1/log/entries/${want.uuid}`)).json,
    );
    for (const e of [byIndex, byUuid]) {
      assert.equal(e.uuid, want.uuid);
      assert.equal(e.logIndex, i, 'logIndex is global');
      assert.equal(e.body, want.body);
      const inOld = i < N;
      assert.equal(e.uuid.slice(0, 16), treeHex(inOld ? oldTree : server.treeId));
      const p = e.verification.inclusionProof;
      assert.equal(p.logIndex, inOld ? i : i - N, 'the inclusion proof index is shard-local');
      assert.equal(
        p.checkpoint,
        inOld ? old.signedTreeHead : info.signedTreeHead,
        "proven against its shard's checkpoint",
      );
      const v = verifyLogEntry(e, key);
      assert.equal(v.checkpoint.origin.endsWith(` - ${inOld ? oldTree : server.treeId}`), true);
    }
  }
  assert.equal((await getJson(`${server.url}/api/v1/log/entries?logIndex=${created.length}`)).status, 404);
  // A bare leaf hash finds an old entry too.
  const leafOnly = created[1]!.uuid.slice(16);
  assert.equal(
    only((await getJson<Record<string, never>>(`${server.url}/api/v1/log/entries/${leafOnly}`)).json).uuid,
    created[1]!.uuid,
  );

  const res = await post(server.url, '/api/v1/log/entries/retrieve', {
    logIndexes: [0, N + 1],
    entryUUIDs: [created[2]!.uuid, created[N + 2]!.uuid.slice(16)],
  });
  assert.equal(res.status, 200);
  const got = ((await res.json()) as Record<string, never>[]).map((m) => only(m).logIndex);
  assert.deepEqual(
    got.sort((a, b) => a - b),
    [0, 2, N + 1, N + 2],
  );

  // Consistency proofs inside the frozen shard (treeID) and the active one.
  const proof = (
    await getJson<{ rootHash: string; hashes: string[] }>(
      `${server.url}/api/v1/log/proof?firstSize=2&lastSize=${N}&treeID=${oldTree}`,
    )
  ).json;
  assert.equal(proof.rootHash, old.rootHash);
  const at2 = created[1]!.verification.inclusionProof;
  assert.equal(at2.treeSize, 2);
  const ok = verifyConsistency(
    2,
    N,
    Buffer.from(at2.rootHash, 'hex'),
    Buffer.from(old.rootHash, 'hex'),
    proof.hashes.map((h) => Buffer.from(h, 'hex')),
  );
  assert.equal(ok, true);
  assert.equal(
    (await getJson(`${server.url}/api/v1/log/proof?firstSize=1&lastSize=${N}`)).status,
    400,
    'the active tree is smaller',
  );
  assert.equal(
    (await getJson(`${server.url}/api/v1/log/proof?firstSize=1&lastSize=${N + 1}&treeID=${oldTree}`)).status,
    400,
  );
  assert.equal(
    (await getJson(`${server.url}/api/v1/log/proof?firstSize=1&lastSize=${M}&treeID=${server.treeId}`))
      .status,
    200,
  );
  assert.equal((await fetch(`${server.url}/api/v1/log/publicKey?treeID=${oldTree}`)).status, 200);

  // Tiles: the root serves the active shard, /shards/<treeID>/ any shard.
  assert.equal(await (await fetch(`${server.url}/shards/${oldTree}/checkpoint`)).text(), old.signedTreeHead);
  await waitFor(
    async () => (await (await fetch(`${server.url}/checkpoint`)).text()) === info.signedTreeHead,
    'the active tile checkpoint',
  );
  assert.equal((await fetch(`${server.url}/shards/${oldTree}/tile/entries/000.p/${N}`)).status, 200);
}

test('rotate: global indexes continue, every entry of both shards is found by index and UUID and proven against its shard, across a restart', async (t) => {
  const dataDir = tempDir(t);
  let server = await openLog(dataDir);
  const shared = Buffer.from('one artifact signed in both shards');
  const created = await grow(server, N - 1);
  created.push(await createEntry(server.url, hashedRekord(shared).entry));
  const oldTree = server.treeId;
  await assert.rejects(
    rotateLog(dataDir),
    (e: { code?: string }) => e.code === 'LOCKED',
    'no rotation under a running server',
  );
  await server.close();

  const r = await rotateLog(dataDir);
  assert.deepEqual([r.frozen.treeId, r.frozen.size, r.activeOffset], [oldTree, N, N]);
  assert.notEqual(r.active.treeId, oldTree);

  server = await openLog(dataDir);
  t.after(() => server.close());
  assert.equal(server.treeId, r.active.treeId);
  const fresh = await grow(server, M - 1);
  fresh.push(await createEntry(server.url, hashedRekord(shared).entry));
  fresh.forEach((e, i) => {
    assert.equal(e.logIndex, N + i);
    assert.equal(e.verification.inclusionProof.logIndex, i);
    verifyLogEntry(e, logKey(server));
  });
  created.push(...fresh);
  await checkAll(server, oldTree, created);

  // The index search spans shards: the shared artifact's digest names one entry in each.
  const res = await post(server.url, '/api/v1/index/retrieve', {
    hash: `sha256:${hashedRekord(shared).digest.toString('hex')}`,
  });
  assert.deepEqual(
    ((await res.json()) as string[]).sort(),
    [created[N - 1]!.uuid, created[N + M - 1]!.uuid].sort(),
  );

  await server.close();
  server = await openLog(dataDir);
  await checkAll(server, oldTree, created);

  // Duplicates are per tree, as in Rekor: an entry of the frozen shard is accepted again in the active one.
  const again = hashedRekord();
  const first = await createEntry(server.url, again.entry);
  const dupRes = await post(server.url, '/api/v1/log/entries', again.entry);
  assert.equal(dupRes.status, 409);
  assert.equal(dupRes.headers.get('location')?.endsWith(first.uuid), true);
  const oldEntryBody = JSON.parse(Buffer.from(created[0]!.body, 'base64').toString()) as unknown;
  const readded = await createEntry(server.url, oldEntryBody);
  assert.equal(readded.logIndex, N + M + 1);
  assert.equal(readded.uuid.slice(16), created[0]!.uuid.slice(16), 'same leaf, new tree');
  assert.notEqual(readded.uuid, created[0]!.uuid);
  const both = await post(server.url, '/api/v1/log/entries/retrieve', {
    entryUUIDs: [created[0]!.uuid.slice(16)],
  });
  assert.deepEqual(
    ((await both.json()) as Record<string, never>[]).map((m) => only(m).logIndex).sort((a, b) => a - b),
    [0, N + M + 1],
  );
});

test('a second rotation: three shards, indexes continue; an empty active tree is not rotated', async (t) => {
  const dataDir = tempDir(t);
  let server = await openLog(dataDir);
  const a = await grow(server, 3);
  await server.close();
  await rotateLog(dataDir);
  await assert.rejects(
    rotateLog(dataDir),
    (e: { code?: string }) => e.code === 'INVALID_INPUT',
    'the new tree is still empty',
  );
  server = await openLog(dataDir);
  const b = await grow(server, 2);
  await server.close();
  const r = await rotateLog(dataDir);
  assert.equal(r.activeOffset, 5);
  server = await openLog(dataDir);
  t.after(() => server.close());
  const c = await grow(server, 2);
  assert.deepEqual(
    [...a, ...b, ...c].map((e) => e.logIndex),
    [0, 1, 2, 3, 4, 5, 6],
  );
  const info = (await getJson<LogInfoJson>(`${server.url}/api/v1/log`)).json;
  assert.deepEqual(
    info.inactiveShards?.map((s) => s.treeSize),
    [3, 2],
  );
  for (const e of [...a, ...b, ...c]) {
    const got = only(
      (await getJson<Record<string, never>>(`${server.url}/api/v1/log/entries?logIndex=${e.logIndex}`)).json,
    );
    assert.equal(got.uuid, e.uuid);
    verifyLogEntry(got, logKey(server));
  }
});

test('shard bad input is a 4xx JSON error; a frozen shard that grew keeps the server from starting', async (t) => {
  const dataDir = tempDir(t);
  let server = await openLog(dataDir);
  await grow(server, 2);
  const oldTree = server.treeId;
  await server.close();
  await assert.rejects(
    rotateLog(tempDir(t)),
    (e: { code?: string }) => e.code === 'INVALID_INPUT',
    'no log to rotate',
  );
  await rotateLog(dataDir);
  server = await openLog(dataDir);
  const unknown80 = `${'7'.repeat(16)}${'a'.repeat(64)}`;
  const cases: [string, number][] = [
    [`/api/v1/log/proof?firstSize=1&lastSize=1&treeID=abc`, 400],
    [`/api/v1/log/proof?firstSize=1&lastSize=1&treeID=-1`, 400],
    [`/api/v1/log/proof?firstSize=1&lastSize=1&treeID=99999999999999999999`, 400],
    [`/api/v1/log/proof?firstSize=1&lastSize=1&treeID=12345`, 404],
    [`/api/v1/log/proof?firstSize=1&lastSize=1&treeID=${oldTree}&treeID=${oldTree}`, 400],
    [`/api/v1/log/publicKey?treeID=0x12`, 400],
    [`/api/v1/log/publicKey?treeID=12345`, 404],
    [`/api/v1/log/entries/${unknown80}`, 404],
    [`/api/v1/log/entries/${treeHex(oldTree)}${'b'.repeat(64)}`, 404],
    [`/api/v1/log/entries?logIndex=2`, 404],
    [`/api/v1/log/entries?logIndex=99999999999999999999`, 400],
  ];
  for (const [path, status] of cases) {
    const r = await getJson<{ code?: string; message?: string }>(`${server.url}${path}`);
    assert.equal(r.status, status, path);
    assert.equal(typeof r.json.code, 'string', path);
    assert.equal(typeof r.json.message, 'string', path);
  }
  await server.close();

  // Something appends to the frozen shard behind the manifest's back: refuse to serve.
  const { openSqliteStore } = await import('../../src/log/store/sqlite/sqlite.js');
  const { createLog } = await import('../../src/log/core.js');
  const store = await openSqliteStore({ dir: dataDir, worker: false });
  const log = await createLog({ store, signTreeHead: (size) => `forged head ${size}` });
  await log.append(Buffer.from('sneaked in'));
  await log.close();
  await assert.rejects(
    openLog(dataDir),
    (e: { code?: string; message?: string }) =>
      e.code === 'STORAGE_FAILURE' && /frozen/.test(e.message ?? ''),
  );
});
