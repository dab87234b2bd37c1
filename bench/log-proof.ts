// The log at scale, on SQLite or PostgreSQL. Prints JSON.
//   npx tsx bench/log-proof.ts [--store sqlite|postgres] [--entries 10000000] [--body 1500] [--keys 3]
//     [--every 1000000] [--chunk 10000] [--samples 5000] [--http-samples 2000]
//     [--database-url postgres://postgres@127.0.0.1:5432/postgres] [--dir DIR] [--keep]
// 1. Fills the store straight through LogStore.commitBatch (no HTTP, no signing): big batches,
//    each one durable transaction (SQLite synchronous=FULL; PostgreSQL synchronous_commit=on),
//    entries of --body random bytes with --keys index keys each, as the append path files them;
//    reports the fill rate per --every entries (a series) and bytes on disk per entry.
// 2. Inclusion-proof latency for random indexes at the full size: through the log core API
//    (the server's configuration: SQLite store on its worker thread; for PostgreSQL the
//    sequencer's core and a follower replica) and over HTTP (GET /api/v1/log/entries?logIndex=…
//    on `sigil log serve` over the same store: entry + inclusion proof + SET per response).
// A --dir / --keep run can be resumed: the fill extends what is there.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { composingSource } from '../src/log/hash-source.js';
import {
  createLog,
  openSqliteStore,
  SQLITE_FILE_NAME,
  type NewEntry,
  type NodeHash,
  type TransparencyLog,
} from '../src/log/index.js';
import { migratePostgres, openPostgresStore } from '../src/log/store/pg/store.js';
import { openReplicatedLog } from '../src/log/replicated.js';
import type { LogStore } from '../src/log/store/types.js';
import { TreeCache } from '../src/log/tree-cache.js';
import { leafHash, verifyInclusion } from '../src/merkle/index.js';
import { startLogServer, stopLogServer } from './log-server.js';

const { values } = parseArgs({
  options: {
    store: { type: 'string', default: 'sqlite' },
    entries: { type: 'string', default: '10000000' },
    body: { type: 'string', default: '1500' },
    keys: { type: 'string', default: '3' },
    every: { type: 'string', default: '1000000' },
    chunk: { type: 'string', default: '10000' },
    samples: { type: 'string', default: '5000' },
    'http-samples': { type: 'string', default: '2000' },
    'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
    'tiles-wait': { type: 'string', default: '900' },
  },
});
const STORE = values.store === 'postgres' ? 'postgres' : 'sqlite';
const TARGET = Number(values.entries);
const BODY = Number(values.body);
const KEYS = Number(values.keys);
const EVERY = Number(values.every);
const CHUNK = Number(values.chunk);
const signer = (size: number, root: Buffer, ts: number): string =>
  `bench\n${size}\n${root.toString('base64')}\n${ts}\n`;
const dir = values.dir ?? mkdtempSync(join(tmpdir(), 'sigil-log-scale-'));
const dbName = `sigil_scale_${STORE === 'postgres' && values.dir ? values.dir.replace(/\W/g, '_').slice(-20) : randomBytes(4).toString('hex')}`;
const adminUrl = values['database-url']!;
const dbUrl = ((): string => {
  const u = new URL(adminUrl);
  u.pathname = `/${dbName}`;
  return u.toString();
})();

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client(adminUrl);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function openStore(): Promise<LogStore> {
  if (STORE === 'sqlite') return openSqliteStore({ dir, worker: false });
  const exists = await admin(
    async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [dbName])).rowCount! > 0,
  );
  if (!exists) await admin((c) => c.query(`CREATE DATABASE ${dbName}`));
  await migratePostgres(dbUrl);
  return openPostgresStore({ databaseUrl: dbUrl });
}

/** Random bodies without paying for 10M × body random bytes: slices of a random pool, each stamped with its index. */
const pool = randomBytes(8 << 20);
function bodies(first: number, n: number): Buffer[] {
  const all = Buffer.allocUnsafe(n * BODY);
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const b = all.subarray(i * BODY, (i + 1) * BODY);
    pool.copy(b, 0, Math.floor(Math.random() * (pool.length - BODY)));
    b.writeUIntBE(first + i, 0, 6);
    out.push(b);
  }
  return out;
}

function indexKeys(leaf: Buffer, i: number): string[] {
  const keys = [
    `sha256:${leaf.toString('hex', 6, 38)}`,
    leaf.toString('hex', 38, 70),
    `user${i % 100_000}@example.com`,
  ];
  return keys.slice(0, KEYS);
}

async function fill(): Promise<{
  filled: number;
  seconds: number;
  series: { size: number; entriesPerSecond: number }[];
}> {
  const store = await openStore();
  const log = await createLog({ store, signTreeHead: signer }); // creates the empty head; checks what is there
  const start = log.latestTreeHead().size;
  const cache = new TreeCache(64, CHUNK);
  for (let level = 0; 2 ** level <= start; level++) {
    const count = TreeCache.countAt(start, level);
    const from = Math.max(0, count - 2);
    cache.setLevel(level, from, await store.getNodeRange(level, from, count - from));
  }
  cache.size = start;
  const series: { size: number; entriesPerSecond: number }[] = [];
  const t0 = performance.now();
  let mark = { size: start, at: t0 };
  let size = start;
  const now = Math.floor(Date.now() / 1000);
  while (size < TARGET) {
    const n = Math.min(CHUNK, TARGET - size);
    const entries: NewEntry[] = [];
    const nodes: NodeHash[] = [];
    bodies(size, n).forEach((leaf, i) => {
      const h = leafHash(leaf);
      entries.push({
        index: size + i,
        leaf,
        leafHash: h,
        integratedTime: now,
        indexKeys: indexKeys(leaf, size + i),
      });
      for (const node of cache.append(h)) nodes.push(node);
    });
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
    // A server's event loop turns between commits; so must this one, or the SQLite store's
    // background index maintenance (scheduled on the event loop) never runs and its memtable grows.
    await new Promise((r) => setImmediate(r));
    if (Math.floor(size / EVERY) > Math.floor(mark.size / EVERY) || size === TARGET) {
      const at = performance.now();
      series.push({ size, entriesPerSecond: Math.round((size - mark.size) / ((at - mark.at) / 1000)) });
      process.stderr.write(`fill ${STORE}: ${JSON.stringify(series[series.length - 1])}\n`);
      mark = { size, at };
    }
  }
  await log.close();
  return { filled: size - start, seconds: (performance.now() - t0) / 1000, series };
}

async function bytesOnDisk(): Promise<number> {
  if (STORE === 'sqlite') {
    return [SQLITE_FILE_NAME, `${SQLITE_FILE_NAME}-wal`]
      .map((f) => join(dir, f))
      .filter(existsSync)
      .reduce((n, f) => n + statSync(f).size, 0);
  }
  const c = new pg.Client(dbUrl);
  await c.connect();
  try {
    await c.query('VACUUM ANALYZE').catch(() => undefined); // visibility map; sizes unchanged (append-only tables)
    const r = await c.query<{ b: string }>(
      `SELECT sum(pg_total_relation_size(format('%I.%I', schemaname, tablename)))::bigint AS b FROM pg_tables WHERE schemaname = 'sigil_log'`,
    );
    return Number(r.rows[0]!.b);
  } finally {
    await c.end();
  }
}

function quantiles(xs: number[]): { p50: number; p99: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): number => +s[Math.min(s.length - 1, Math.floor(p * s.length))]!.toFixed(3);
  return { p50: q(0.5), p99: q(0.99), max: +s[s.length - 1]!.toFixed(3) };
}

/** Random-index proofs at the head: a warm-up pass (not counted), then `samples` timed ones; every 50th verified. */
async function timeProofs(log: TransparencyLog, samples: number): Promise<Record<string, unknown>> {
  const head = log.latestTreeHead();
  const random = (): number => Math.floor(Math.random() * head.size);
  for (let i = 0; i < 200; i++) await log.inclusionProof(random(), head.size);
  const ms: number[] = [];
  let verified = 0;
  for (let i = 0; i < samples; i++) {
    const idx = random();
    const a = performance.now();
    const p = await log.inclusionProof(idx, head.size);
    ms.push(performance.now() - a);
    if (i % 50 === 0) {
      const e = (await log.getEntry(idx))!;
      if (!verifyInclusion(idx, head.size, e.leafHash, p, head.rootHash))
        throw new Error(`proof for ${idx} does not verify`);
      verified += 1;
    }
  }
  // Same-run baseline: proofs of the newest entries, served from memory (no store read).
  const recent: number[] = [];
  for (let i = 0; i < Math.min(samples, 2000); i++) {
    const idx = head.size - 1 - Math.floor(Math.random() * 256);
    const a = performance.now();
    await log.inclusionProof(idx, head.size);
    recent.push(performance.now() - a);
  }
  return { ...quantiles(ms), verified, newestFromMemory: quantiles(recent) };
}

async function coreProofs(): Promise<Record<string, unknown>> {
  const samples = Number(values.samples);
  if (STORE === 'sqlite') {
    const log = await createLog({ store: await openSqliteStore({ dir }), signTreeHead: signer });
    try {
      return { storeOnWorkerThread: await timeProofs(log, samples) };
    } finally {
      await log.close();
    }
  }
  const seq = await openReplicatedLog({ databaseUrl: dbUrl, signerFor: () => signer });
  const fol = await openReplicatedLog({ databaseUrl: dbUrl, signerFor: () => signer, sequence: false });
  try {
    return { sequencer: await timeProofs(seq, samples), follower: await timeProofs(fol, samples) };
  } finally {
    await fol.close();
    await seq.close();
  }
}

function serve(): Promise<{ proc: ChildProcess; url: string }> {
  const args = ['--workers', '0'];
  args.push(
    ...(STORE === 'sqlite'
      ? ['--data-dir', dir]
      : ['--store', 'postgres', '--database-url', dbUrl, '--data-dir', join(dir, 'serve')]),
  );
  return startLogServer(args);
}

/** GET /api/v1/log/entries?logIndex=… for random indexes, one request at a time on a keep-alive connection. */
async function httpProofs(): Promise<Record<string, unknown>> {
  const samples = Number(values['http-samples']);
  const { proc, url } = await serve();
  try {
    const size = ((await (await fetch(`${url}/api/v1/log`)).json()) as { treeSize: number }).treeSize;
    // The server publishes C2SP tiles for the whole tree when it starts: wait for that to finish.
    const t0 = performance.now();
    const tiled = async (): Promise<boolean> =>
      (await (await fetch(`${url}/checkpoint`)).text()).split('\n')[1] === String(size);
    while (!(await tiled()) && performance.now() - t0 < Number(values['tiles-wait']) * 1000)
      await new Promise((r) => setTimeout(r, 2000));
    const tilesCaughtUp = await tiled();
    const tilesSeconds = +((performance.now() - t0) / 1000).toFixed(1);
    const get = async (
      i: number,
    ): Promise<{ logIndex: number; verification: { inclusionProof: { hashes: string[] } } }> => {
      const res = await fetch(`${url}/api/v1/log/entries?logIndex=${i}`);
      if (res.status !== 200) throw new Error(`GET logIndex=${i}: ${res.status} ${await res.text()}`);
      return Object.values((await res.json()) as Record<string, never>)[0]!;
    };
    for (let i = 0; i < 100; i++) await get(Math.floor(Math.random() * size));
    const ms: number[] = [];
    let proofHashes = 0;
    for (let i = 0; i < samples; i++) {
      const idx = Math.floor(Math.random() * size);
      const a = performance.now();
      const e = await get(idx);
      ms.push(performance.now() - a);
      if (e.logIndex !== idx) throw new Error(`asked ${idx}, got ${e.logIndex}`);
      proofHashes = Math.max(proofHashes, e.verification.inclusionProof.hashes.length);
    }
    return { treeSize: size, ...quantiles(ms), proofHashes, tilesCaughtUp, tilesSeconds };
  } finally {
    await stopLogServer(proc);
  }
}

try {
  const filled = await fill();
  const bytes = await bytesOnDisk();
  const result = {
    bench: 'log-scale-proof',
    store: STORE,
    treeSize: TARGET,
    bodyBytes: BODY,
    indexKeysPerEntry: KEYS,
    fill: {
      entries: filled.filled,
      seconds: +filled.seconds.toFixed(1),
      entriesPerSecond: filled.seconds > 0 ? Math.round(filled.filled / filled.seconds) : null,
      chunk: CHUNK,
      series: filled.series,
    },
    disk: {
      bytesPerEntry: Math.round(bytes / TARGET),
      ratioToBody: +(bytes / TARGET / BODY).toFixed(2),
      totalGiB: +(bytes / 2 ** 30).toFixed(2),
    },
    inclusionProofMs: { core: await coreProofs(), http: {} as Record<string, unknown> },
  };
  process.stderr.write(`${JSON.stringify(result)}\n`);
  // --http-samples 0 skips the HTTP part (and the server's first start, which writes every tile).
  if (Number(values['http-samples']) > 0) result.inclusionProofMs.http = await httpProofs();
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  if (!values.keep) {
    if (values.dir === undefined) rmSync(dir, { recursive: true, force: true });
    if (STORE === 'postgres')
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)).catch(() => undefined);
  }
}
