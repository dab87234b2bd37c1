import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createPublicKey } from 'node:crypto';
import { parseCheckpoint, parseSignedNote, verifyNote } from '../../src/bundle/signed-note.js';
import { sha256, spkiDer } from '../../src/crypto/index.js';
import { createLog, openSqliteStore, type Log } from '../../src/log/index.js';
import { TileProver } from '../../src/log/tiles/client.js';
import { TileWriter } from '../../src/log/tiles/writer.js';
import { leafHash, rootOf, verifyConsistency, verifyInclusion } from '../../src/merkle/index.js';
import { leaf, tempDir, textSigner } from '../log/helpers.js';
import { createEntry, hashedRekord, startLog } from '../rekor/helpers.js';

async function appendN(log: Log, tag: string, n: number): Promise<void> {
  for (let i = 0; i < n; i += 4096) {
    await Promise.all(Array.from({ length: Math.min(4096, n - i) }, (_, j) => log.append(leaf(tag, i + j))));
  }
}

const fileFetcher = (dir: string) => async (path: string) => readFileSync(join(dir, path));

test('tiles written as the tree grows are immutable, and proofs from tiles alone match the tree', async (t) => {
  const dir = tempDir(t);
  const tiles = join(dir, 'tiles');
  const log = await createLog({
    store: await openSqliteStore({ dir }),
    signTreeHead: textSigner,
    maxBatch: 1024,
  });
  t.after(() => log.close());
  const writer = new TileWriter(log, tiles);
  await appendN(log, 'a', 549);
  assert.equal(await writer.sync(), 549);
  const level0 = readdirSync(join(tiles, 'tile/0'), { recursive: true }).map(String).sort();
  assert.deepEqual(level0, ['000', '001', '002.p', '002.p/37']);
  const all = await log.getEntries(0, 549);
  assert.ok(
    readFileSync(join(tiles, 'tile/0/001')).equals(Buffer.concat(all.slice(256, 512).map((e) => e.leafHash))),
  );
  assert.ok(
    readFileSync(join(tiles, 'tile/1/000.p/2')).equals(
      Buffer.concat([
        rootOf(all.slice(0, 256).map((e) => e.leafHash)),
        rootOf(all.slice(256, 512).map((e) => e.leafHash)),
      ]),
    ),
  );
  assert.equal(readFileSync(join(tiles, 'checkpoint'), 'utf8'), log.latestTreeHead().signed);
  const partialBefore = readFileSync(join(tiles, 'tile/entries/002.p/37'));

  await appendN(log, 'b', 51);
  assert.equal(await writer.sync(), 600);
  assert.ok(
    readFileSync(join(tiles, 'tile/entries/002.p/37')).equals(partialBefore),
    'an old partial tile never changes',
  );
  const prover = new TileProver(fileFetcher(tiles), 600);
  const head = log.latestTreeHead();
  assert.ok((await prover.root()).equals(head.rootHash), 'root from tiles = checkpoint root');
  for (let i = 0; i < 600; i += 7) {
    const proof = await prover.inclusionProof(i);
    assert.ok(verifyInclusion(i, 600, await prover.leafHash(i), proof, head.rootHash), `inclusion ${i}`);
    assert.ok(
      leafHash(await prover.entry(i)).equals(await prover.leafHash(i)),
      `entry bundle ${i} hashes to the tile`,
    );
  }
  const old = new TileProver(fileFetcher(tiles), 549);
  const oldRoot = await old.root();
  assert.ok(oldRoot.equals(await log.rootAt(549)));
  assert.ok(verifyConsistency(549, 600, oldRoot, head.rootHash, await prover.consistencyProof(549)));
});

test('level-1 full tiles and level-2 tiles: proofs at 65,836 entries from tiles equal the log', async (t) => {
  const dir = tempDir(t);
  const tiles = join(dir, 'tiles');
  const log = await createLog({
    store: await openSqliteStore({ dir }),
    signTreeHead: textSigner,
    maxBatch: 4096,
    cacheWindow: 8192,
  });
  t.after(() => log.close());
  await appendN(log, 'c', 65_836);
  const writer = new TileWriter(log, tiles);
  assert.equal(await writer.sync(), 65_836);
  assert.equal(readFileSync(join(tiles, 'tile/1/000')).length, 8192);
  assert.equal(readFileSync(join(tiles, 'tile/2/000.p/1')).length, 32);
  const prover = new TileProver(fileFetcher(tiles), 65_836);
  const head = log.latestTreeHead();
  assert.ok((await prover.root()).equals(head.rootHash));
  for (const i of [0, 255, 256, 65_535, 65_536, 65_835, 40_000]) {
    const fromTiles = await prover.inclusionProof(i);
    assert.deepEqual(fromTiles, await log.inclusionProof(i, head.size), `proof ${i} from tiles = the log's`);
  }
  assert.deepEqual(await prover.consistencyProof(1000), await log.consistencyProof(1000, head.size));
});

test('the log server serves /checkpoint and /tile/…; a client proves inclusion from tiles alone', async (t) => {
  const server = await startLog(t);
  const entries = [];
  for (let i = 0; i < 5; i++) entries.push(await createEntry(server.url, hashedRekord().entry));
  const deadline = Date.now() + 10_000;
  let cp = '';
  while (Date.now() < deadline) {
    const res = await fetch(`${server.url}/checkpoint`);
    cp = res.status === 200 ? await res.text() : '';
    if (res.status === 200) assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
    if (cp && parseCheckpoint(parseSignedNote(cp).text).size === 5) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const note = parseSignedNote(cp);
  const key = createPublicKey(server.publicKeyPem);
  assert.ok(
    verifyNote(note, server.checkpointName, sha256(spkiDer(key)).subarray(0, 4), key),
    'checkpoint is signed by the log key',
  );
  const checkpoint = parseCheckpoint(note.text);
  assert.equal(checkpoint.size, 5);
  const fetched: string[] = [];
  const prover = new TileProver(async (path) => {
    fetched.push(path);
    const res = await fetch(`${server.url}/${path}`);
    if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
    assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    return Buffer.from(await res.arrayBuffer());
  }, 5);
  assert.ok((await prover.root()).equals(checkpoint.rootHash), 'root from tiles = checkpoint root');
  for (const e of entries) {
    const body = Buffer.from(e.body, 'base64');
    assert.ok((await prover.entry(e.logIndex)).equals(body), 'the entry bundle holds the entry body');
    const proof = await prover.inclusionProof(e.logIndex);
    assert.ok(verifyInclusion(e.logIndex, 5, leafHash(body), proof, checkpoint.rootHash));
  }
  assert.ok(
    fetched.every((p) => p === 'tile/0/000.p/5' || p === 'tile/entries/000.p/5'),
    fetched.join(','),
  );
  for (const [path, status] of [
    ['/tile/0/000.p/6', 404],
    ['/tile/0/001', 404],
    ['/tile/0/0', 400],
    ['/tile/0/..%2f..%2fetc', 400],
    ['/tile/9/000', 400],
  ] as const) {
    const res = await fetch(`${server.url}${path}`);
    assert.equal(res.status, status, path);
    assert.ok(typeof ((await res.json()) as { code?: string }).code === 'string');
  }
});
