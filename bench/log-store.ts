// Commit throughput of the log core over the SQLite store at a given tree size. For each size
// and each number of index keys per entry: fills a fresh store straight through
// LogStore.commitBatch (big transactions), reopens it as a log (store on its worker thread,
// durable commits) and appends with many appends in flight for a fixed count. Prints JSON.
//   npx tsx bench/log-store.ts [--sizes 100000,500000] [--keys 0,2] [--appends 40000]
//                              [--in-flight 2048] [--leaf-bytes 1024] [--dir DIR]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
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
import { leafHash } from '../src/merkle/index.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100000,500000' },
    keys: { type: 'string', default: '0,2' },
    appends: { type: 'string', default: '40000' },
    'in-flight': { type: 'string', default: '2048' },
    'leaf-bytes': { type: 'string', default: '1024' },
    chunk: { type: 'string', default: '25000' },
    dir: { type: 'string' },
  },
});
const sizes = values.sizes.split(',').map(Number);
const keyCounts = values.keys.split(',').map(Number);
const appends = Number(values.appends);
const inFlight = Number(values['in-flight']);
const leafBytes = Number(values['leaf-bytes']);
const chunk = Number(values.chunk);
const signer = (size: number, root: Buffer, ts: number): string =>
  `bench\n${size}\n${root.toString('base64')}\n${ts}\n`;

/** Index keys shaped like Rekor's (random digests), so they land at random places in an index. */
function keysFor(n: number): string[] {
  return Array.from({ length: n }, () => `sha256:${randomBytes(32).toString('hex')}`);
}

async function fill(dir: string, target: number, keys: number): Promise<number> {
  const store = await openSqliteStore({ dir, worker: false });
  const log = await createLog({ store, signTreeHead: signer });
  await log.close();
  const store2 = await openSqliteStore({ dir, worker: false });
  const cache = new TreeCache(64, chunk);
  const t0 = performance.now();
  let size = 0;
  const now = Math.floor(Date.now() / 1000);
  while (size < target) {
    const n = Math.min(chunk, target - size);
    const entries: NewEntry[] = [];
    const nodes: NodeHash[] = [];
    for (let i = 0; i < n; i++) {
      const leaf = randomBytes(leafBytes);
      const h = leafHash(leaf);
      entries.push({ index: size + i, leaf, leafHash: h, integratedTime: now, indexKeys: keysFor(keys) });
      for (const node of cache.append(h)) nodes.push(node);
    }
    const newSize = size + n;
    const root = composingSource(cache.get.bind(cache), new Map(), new Map()).hashRange(0, newSize);
    const ts = Date.now();
    await store2.commitBatch({
      previousSize: size,
      entries,
      nodes,
      treeHead: { size: newSize, rootHash: root, timestamp: ts, signed: signer(newSize, root, ts) },
    });
    cache.trim();
    size = newSize;
  }
  // Let background lookup-index work finish (new store only), so the timed phase starts settled.
  const settled = store2 as { lookupStats?: () => { idle: boolean } };
  while (settled.lookupStats !== undefined && !settled.lookupStats().idle) {
    await new Promise((r) => setImmediate(r));
  }
  await store2.close();
  return (performance.now() - t0) / 1000;
}

/** Bytes this process (all threads) caused to be written to storage, where Linux reports it. */
function writeBytes(): number {
  try {
    return Number(/write_bytes: (\d+)/.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

async function measure(dir: string, keys: number): Promise<Record<string, number>> {
  const t0 = performance.now();
  const log = await createLog({ store: await openSqliteStore({ dir }), signTreeHead: signer });
  const openMs = performance.now() - t0;
  const leaves = Array.from({ length: appends }, () => randomBytes(leafBytes));
  const keySets = leaves.map(() => keysFor(keys));
  const lat: number[] = [];
  let next = 0;
  const cpu0 = process.cpuUsage();
  const io0 = writeBytes();
  const start = performance.now();
  async function client(): Promise<void> {
    while (next < appends) {
      const i = next++;
      const s = performance.now();
      await log.append(leaves[i]!, { indexKeys: keySets[i]! });
      lat.push(performance.now() - s);
    }
  }
  await Promise.all(Array.from({ length: inFlight }, client));
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const written = writeBytes() - io0;
  const stats = log.stats();
  // Spot check: the last appended leaf is found by hash and by one of its keys.
  const last = leaves[appends - 1]!;
  const found = await log.findByLeafHash(leafHash(last));
  if (found === undefined) throw new Error('appended leaf not found by hash');
  if (keys > 0 && (await log.lookupIndexKey(keySets[appends - 1]![0]!)).length !== 1)
    throw new Error('appended key not found');
  await log.close();
  lat.sort((a, b) => a - b);
  return {
    openMs: Math.round(openMs),
    entriesPerSecond: Math.round(appends / seconds),
    commits: stats.commits,
    meanBatch: Math.round(stats.appended / Math.max(1, stats.commits)),
    meanCommitMs: +((seconds * 1000) / Math.max(1, stats.commits)).toFixed(1),
    appendP50Ms: +percentile(lat, 0.5).toFixed(1),
    appendP99Ms: +percentile(lat, 0.99).toFixed(1),
    // Less sensitive to other load on the machine than entries/s: CPU (all threads of this
    // process: the log core, the store's worker, SQLite) and bytes written per 1000 entries.
    cpuMsPer1kEntries: Math.round(((cpu.user + cpu.system) / 1000 / appends) * 1000),
    writtenMiBPer1kEntries: +((written / 2 ** 20 / appends) * 1000).toFixed(2),
    loadAverage1m: +loadavg()[0]!.toFixed(1),
  };
}

const results: Record<string, unknown>[] = [];
for (const size of sizes) {
  for (const keys of keyCounts) {
    const dir = values.dir ?? mkdtempSync(join(tmpdir(), 'sigil-log-store-bench-'));
    const fillSeconds = await fill(dir, size, keys);
    const m = await measure(dir, keys);
    const dbMiB = +(statSync(join(dir, SQLITE_FILE_NAME)).size / 2 ** 20).toFixed(1);
    const row = {
      treeSize: size,
      indexKeysPerEntry: keys,
      fillSeconds: +fillSeconds.toFixed(1),
      dbMiB,
      ...m,
    };
    results.push(row);
    console.error(JSON.stringify(row));
    if (values.dir === undefined) rmSync(dir, { recursive: true, force: true });
  }
}
console.log(
  JSON.stringify(
    { bench: 'log-store', appends, inFlight, leafBytes, durable: 'WAL, synchronous=FULL', results },
    null,
    2,
  ),
);
