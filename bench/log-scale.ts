// Log scale-out benchmark. Prints JSON.
//   npx tsx bench/log-scale.ts [--entries 50000] [--body 1500] [--proof-entries 1000000] [--samples 2000]
//     [--database-url postgres://postgres@127.0.0.1:5432/postgres] [--only sqlite,pg1,pg2,proof]
// - append rate over time (entries/s per tenth of the run) through the real append path, with
//   3 index keys per entry like hashedrekord: SQLite, PostgreSQL with 1 replica, PostgreSQL with 2
//   replica processes both appending (one sequences, the other forwards through `pending`);
// - bytes on disk per entry vs the entry body size (tables + indexes, WAL excluded);
// - inclusion-proof latency (p50/p99) at --proof-entries on PostgreSQL, filled straight through
//   the store (big transactions), read by the sequencer's core and by a follower replica.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createLog, openSqliteStore, type TransparencyLog, type NewEntry, type NodeHash } from '../src/log/index.js';
import { migratePostgres, openPostgresStore, openReplicatedLog } from '../src/log/store/postgres.js';
import { TreeCache } from '../src/log/tree-cache.js';
import { composingSource } from '../src/log/hash-source.js';
import { EMPTY_ROOT, leafHash, verifyInclusion } from '../src/merkle/index.js';

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '50000' },
    body: { type: 'string', default: '1500' },
    'proof-entries': { type: 'string', default: '1000000' },
    samples: { type: 'string', default: '2000' },
    'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
    only: { type: 'string', default: 'sqlite,pg1,pg2,proof' },
    child: { type: 'string' },
    tag: { type: 'string', default: 'c' },
  },
});
const N = Number(values.entries);
const BODY = Number(values.body);
const signer = (size: number, root: Buffer, ts: number): string => `bench\n${size}\n${root.toString('base64')}\n${ts}\n`;
const CONCURRENCY = 4096;

function body(tag: string, i: number): Buffer {
  const b = randomBytes(BODY);
  b.write(`${tag}:${i}:`);
  return b;
}
const keys = (i: number): string[] => [`sha256:${randomBytes(32).toString('hex')}`, `${randomBytes(32).toString('hex')}`, `user${i % 1000}@example.com`];

/** Appends n entries with bounded concurrency; returns the overall rate and entries/s per second of the run. */
async function fill(log: TransparencyLog, n: number, tag: string): Promise<{ seconds: number; rate: number; perSecond: number[] }> {
  const t0 = performance.now();
  let next = 0;
  let done = 0;
  let last = 0;
  const perSecond: number[] = [];
  const timer = setInterval(() => {
    perSecond.push(done - last);
    last = done;
  }, 1000);
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      await log.append(body(tag, i), { indexKeys: keys(i) });
      done += 1;
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, n) }, worker));
  clearInterval(timer);
  const seconds = (performance.now() - t0) / 1000;
  return { seconds: +seconds.toFixed(2), rate: Math.round(n / seconds), perSecond };
}

async function freshDb(): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = values['database-url']!;
  const name = `sigil_bench_${randomBytes(4).toString('hex')}`;
  const c = new pg.Client(admin);
  await c.connect();
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  const u = new URL(admin);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const d = new pg.Client(admin);
      await d.connect();
      await d.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
      await d.query(`DROP DATABASE ${name}`);
      await d.end();
    },
  };
}

async function pgBytes(url: string): Promise<number> {
  const c = new pg.Client(url);
  await c.connect();
  await c.query('CHECKPOINT').catch(() => undefined);
  const r = await c.query<{ b: string }>(
    `SELECT sum(pg_total_relation_size(format('%I.%I', schemaname, tablename)))::bigint AS b FROM pg_tables WHERE schemaname = 'sigil_log'`,
  );
  await c.end();
  return Number(r.rows[0]!.b);
}

function quantiles(xs: number[]): { p50: number; p99: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): number => +s[Math.min(s.length - 1, Math.floor(p * s.length))]!.toFixed(3);
  return { p50: q(0.5), p99: q(0.99), max: +s[s.length - 1]!.toFixed(3) };
}

async function sqlite(): Promise<unknown> {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-scale-'));
  try {
    const log = await createLog({ store: await openSqliteStore({ dir }), signTreeHead: signer, maxBatch: 1024 });
    const r = await fill(log, N, 's');
    await log.close();
    const bytes = readdirSync(dir).filter((f) => f === 'log.db').reduce((n, f) => n + statSync(join(dir, f)).size, 0);
    return { ...r, bytesPerEntry: Math.round(bytes / N), bodyBytes: BODY, ratio: +(bytes / N / BODY).toFixed(2) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function pg1(): Promise<unknown> {
  const db = await freshDb();
  try {
    await migratePostgres(db.url);
    const log = await openReplicatedLog({ databaseUrl: db.url, signerFor: () => signer });
    const r = await fill(log, N, 'p');
    await log.close();
    const bytes = await pgBytes(db.url);
    return { ...r, bytesPerEntry: Math.round(bytes / N), bodyBytes: BODY, ratio: +(bytes / N / BODY).toFixed(2) };
  } finally {
    await db.drop();
  }
}

/** Child mode: one replica appending n entries; prints its rate and role. */
async function child(url: string): Promise<void> {
  const log = await openReplicatedLog({ databaseUrl: url, signerFor: () => signer });
  process.stdout.write('ready\n');
  await new Promise<void>((r) => process.stdin.once('data', () => r()));
  const r = await fill(log, N / 2, values.tag!);
  process.stdout.write(`${JSON.stringify({ ...r, role: log.role() })}\n`);
  await new Promise((res) => setTimeout(res, 1500)); // let the other replica's queue drain
  await log.close();
}

async function pg2(): Promise<unknown> {
  const db = await freshDb();
  try {
    await migratePostgres(db.url);
    const kids = ['a', 'b'].map((tag) =>
      spawn(process.execPath, ['--import', 'tsx', 'bench/log-scale.ts', '--child', db.url, '--tag', tag, '--entries', String(N)], {
        stdio: ['pipe', 'pipe', 'inherit'],
      }),
    );
    const outs = kids.map((k) => {
      let out = '';
      k.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      return { ready: new Promise<void>((r) => k.stdout!.on('data', () => out.includes('ready') && r())), done: new Promise<string>((r) => k.on('close', () => r(out))) };
    });
    await Promise.all(outs.map((o) => o.ready));
    const t0 = performance.now();
    for (const k of kids) k.stdin!.end('go\n');
    const texts = await Promise.all(outs.map((o) => o.done));
    const seconds = (performance.now() - t0) / 1000;
    const replicas = texts.map((t) => JSON.parse(t.split('\n').find((l) => l.startsWith('{'))!) as { rate: number; seconds: number; role: string });
    const wall = Math.max(...replicas.map((r) => r.seconds));
    return { replicas, totalRate: Math.round(N / wall), wallSeconds: +wall.toFixed(2), processSeconds: +seconds.toFixed(2) };
  } finally {
    await db.drop();
  }
}

async function proof(): Promise<unknown> {
  const target = Number(values['proof-entries']);
  const samples = Number(values.samples);
  const db = await freshDb();
  try {
    await migratePostgres(db.url);
    const store = await openPostgresStore({ databaseUrl: db.url });
    const cache = new TreeCache(10, 65_536);
    const t0 = performance.now();
    const chunk = 20_000;
    let size = 0;
    const leaf = Buffer.alloc(64);
    for (; size < target; ) {
      const n = Math.min(chunk, target - size);
      const entries: NewEntry[] = [];
      const nodes: NodeHash[] = [];
      for (let i = 0; i < n; i++) {
        leaf.writeUInt32BE(size + i);
        const l = Buffer.from(leaf);
        const h = leafHash(l);
        entries.push({ index: size + i, leaf: l, leafHash: h, integratedTime: 1, indexKeys: [] });
        nodes.push(...cache.append(h));
      }
      const newSize = size + n;
      const root = composingSource(cache.get.bind(cache), new Map(), new Map()).hashRange(0, newSize);
      await store.commitBatch({ previousSize: size, entries, nodes, treeHead: { size: newSize, rootHash: root, timestamp: 0, signed: signer(newSize, root, 0) } });
      cache.trim();
      size = newSize;
    }
    if (size === 0) await store.commitBatch({ previousSize: 0, entries: [], nodes: [], treeHead: { size: 0, rootHash: EMPTY_ROOT, timestamp: 0, signed: '' } });
    const fillSeconds = (performance.now() - t0) / 1000;
    await store.close();
    const seq = await openReplicatedLog({ databaseUrl: db.url, signerFor: () => signer });
    const fol = await openReplicatedLog({ databaseUrl: db.url, signerFor: () => signer, sequence: false });
    const head = seq.latestTreeHead();
    const time = async (log: TransparencyLog): Promise<{ p50: number; p99: number; max: number }> => {
      const ms: number[] = [];
      for (let i = 0; i < samples; i++) {
        const idx = Math.floor(Math.random() * head.size);
        const a = performance.now();
        const p = await log.inclusionProof(idx, head.size);
        ms.push(performance.now() - a);
        if (i < 20) {
          const [e] = await log.getEntries(idx, 1);
          if (!verifyInclusion(idx, head.size, e!.leafHash, p, head.rootHash)) throw new Error('proof does not verify');
        }
      }
      return quantiles(ms);
    };
    const result = { size: head.size, fillSeconds: +fillSeconds.toFixed(1), sequencerMs: await time(seq), followerMs: await time(fol) };
    await fol.close();
    await seq.close();
    return result;
  } finally {
    await db.drop();
  }
}

if (values.child) {
  await child(values.child);
} else {
  const only = new Set(values.only!.split(','));
  const out: Record<string, unknown> = { entries: N, bodyBytes: BODY, cpus: (await import('node:os')).availableParallelism() };
  const step = async (key: string, name: string, fn: () => Promise<unknown>): Promise<void> => {
    if (!only.has(key)) return;
    out[name] = await fn();
    process.stderr.write(`${name}: ${JSON.stringify(out[name])}\n`);
  };
  await step('sqlite', 'sqlite', sqlite);
  await step('pg1', 'postgres1Replica', pg1);
  await step('pg2', 'postgres2Replicas', pg2);
  await step('proof', 'postgresProof', proof);
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}
