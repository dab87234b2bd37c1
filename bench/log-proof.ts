// Inclusion-proof latency at a large tree. Fills the SQLite log store straight through
// LogStore.commitBatch (big transactions, no HTTP, no signing), reopens it as a log and times
// inclusionProof for random indexes at the full size. Prints JSON.
//   npx tsx bench/log-proof.ts [--entries 1000000] [--samples 2000] [--dir DIR]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { composingSource } from '../src/log/hash-source.js';
import {
  createLog,
  openSqliteStore,
  SQLITE_FILE_NAME,
  type NewEntry,
  type NodeHash,
} from '../src/log/index.js';
import { TreeCache } from '../src/log/tree-cache.js';
import { EMPTY_ROOT, leafHash, verifyInclusion } from '../src/merkle/index.js';

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '1000000' },
    samples: { type: 'string', default: '2000' },
    chunk: { type: 'string', default: '50000' },
    dir: { type: 'string' },
  },
});
const target = Number(values.entries);
const samples = Number(values.samples);
const chunk = Number(values.chunk);
const dir = values.dir ?? mkdtempSync(join(tmpdir(), 'sigil-log-bench-'));
const signer = (size: number, root: Buffer, ts: number): string =>
  `bench\n${size}\n${root.toString('base64')}\n${ts}\n`;

async function fill(): Promise<{ filled: number; seconds: number }> {
  const store = await openSqliteStore({ dir, worker: false });
  // Reuse what is there (a log opened once knows its nodes); then extend to the target size.
  const log = await createLog({ store, signTreeHead: signer });
  const start = log.latestTreeHead().size;
  // The log's in-memory tree cache is private; rebuild the right edge the same way it does.
  const cache = new TreeCache(64, chunk);
  for (let level = 0; 2 ** level <= start; level++) {
    const count = TreeCache.countAt(start, level);
    const from = Math.max(0, count - 2);
    cache.setLevel(level, from, await store.getNodeRange(level, from, count - from));
  }
  cache.size = start;
  const t0 = performance.now();
  let size = start;
  const now = Math.floor(Date.now() / 1000);
  while (size < target) {
    const n = Math.min(chunk, target - size);
    const entries: NewEntry[] = [];
    const nodes: NodeHash[] = [];
    for (let i = 0; i < n; i++) {
      const leaf = randomBytes(128);
      const h = leafHash(leaf);
      entries.push({ index: size + i, leaf, leafHash: h, integratedTime: now, indexKeys: [] });
      for (const node of cache.append(h)) nodes.push(node);
    }
    const newSize = size + n;
    const root = composingSource(cache.get.bind(cache), new Map(), new Map()).hashRange(0, newSize);
    const ts = Date.now();
    await store.commitBatch({
      previousSize: size,
      entries,
      nodes,
      treeHead: { size: newSize, rootHash: root, timestamp: ts, signed: signer(newSize, root, ts) },
    });
    cache.trim();
    size = newSize;
  }
  await log.close();
  return { filled: size - start, seconds: (performance.now() - t0) / 1000 };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

async function measure(worker: boolean): Promise<Record<string, number>> {
  const t0 = performance.now();
  const log = await createLog({ store: await openSqliteStore({ dir, worker }), signTreeHead: signer });
  const openMs = performance.now() - t0;
  const head = log.latestTreeHead();
  const lat: number[] = [];
  let verified = 0;
  for (let i = 0; i < samples; i++) {
    const index = Math.floor(Math.random() * head.size);
    const s = performance.now();
    const proof = await log.inclusionProof(index, head.size);
    lat.push(performance.now() - s);
    if (i % 10 === 0) {
      const entry = (await log.getEntry(index))!;
      if (!verifyInclusion(index, head.size, entry.leafHash, proof, head.rootHash))
        throw new Error(`bad proof ${index}`);
      verified += 1;
    }
  }
  // Proofs for the newest entries (the right edge, served from memory).
  const recent: number[] = [];
  for (let i = 0; i < samples; i++) {
    const index = head.size - 1 - Math.floor(Math.random() * 1000);
    const s = performance.now();
    await log.inclusionProof(index, head.size);
    recent.push(performance.now() - s);
  }
  await log.close();
  lat.sort((a, b) => a - b);
  recent.sort((a, b) => a - b);
  return {
    openMs: Math.round(openMs),
    randomP50Ms: +percentile(lat, 0.5).toFixed(3),
    randomP99Ms: +percentile(lat, 0.99).toFixed(3),
    randomMaxMs: +lat[lat.length - 1]!.toFixed(3),
    recentP50Ms: +percentile(recent, 0.5).toFixed(3),
    recentP99Ms: +percentile(recent, 0.99).toFixed(3),
    proofsVerified: verified,
  };
}

const filled = await fill();
const size = (await (async () => {
  const store = await openSqliteStore({ dir, worker: false });
  const { treeHead } = await store.load();
  await store.close();
  return treeHead?.size ?? 0;
})()) as number;
const onThread = await measure(false);
const onWorker = await measure(true);
const dbBytes = statSync(join(dir, SQLITE_FILE_NAME)).size;
console.log(
  JSON.stringify(
    {
      bench: 'log-proof',
      treeSize: size,
      filled: filled.filled,
      fillSeconds: +filled.seconds.toFixed(1),
      fillEntriesPerSecond: filled.seconds > 0 ? Math.round(filled.filled / filled.seconds) : null,
      dbMiB: +(dbBytes / 2 ** 20).toFixed(1),
      samples,
      inclusionProof: { storeOnCallingThread: onThread, storeOnWorkerThread: onWorker },
      emptyRootCheck: EMPTY_ROOT.length === 32,
    },
    null,
    2,
  ),
);
if (values.dir === undefined) rmSync(dir, { recursive: true, force: true });
