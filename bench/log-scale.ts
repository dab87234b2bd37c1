// Log scale-out benchmark. Prints JSON.
//   npx tsx bench/log-scale.ts [--entries 50000] [--body 1500] [--http-seconds 10]
//     [--database-url postgres://postgres@127.0.0.1:5432/postgres] [--only sqlite,pg1,pg2,http]
// - append rate over time (entries/s per second of the run) through the log API in process, with
//   3 index keys per entry like hashedrekord: SQLite, PostgreSQL with 1 replica, PostgreSQL with 2
//   replica processes both appending (one sequences, the other forwards through `pending`);
// - bytes on disk per entry vs the entry body size (tables + indexes, WAL excluded);
// - `http`: hashedrekord appends over HTTP (bench/log.ts as the load generator, durable commits,
//   SET + proof + checkpoint in every 201) on `sigil log serve --store postgres` with 1 replica
//   and with 2 replicas (one bench/log.ts per replica, half the clients each, run together), with
//   the replicas' CPU per entry.
// Tree-size scale (10 M entries: fill rate series, inclusion-proof latency, disk): bench/log-proof.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createLog, openSqliteStore, type TransparencyLog } from '../src/log/index.js';
import { migratePostgres } from '../src/log/store/pg/store.js';
import { openReplicatedLog } from '../src/log/replicated.js';
import { ROOT, startLogServer, stopLogServer } from './log-server.js';

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '50000' },
    body: { type: 'string', default: '1500' },
    'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
    only: { type: 'string', default: 'sqlite,pg1,pg2,http' },
    'http-seconds': { type: 'string', default: '10' },
    'http-clients': { type: 'string', default: '64' },
    child: { type: 'string' },
    tag: { type: 'string', default: 'c' },
  },
});
const N = Number(values.entries);
const BODY = Number(values.body);
const signer = (size: number, root: Buffer, ts: number): string =>
  `bench\n${size}\n${root.toString('base64')}\n${ts}\n`;
const CONCURRENCY = 4096;

function body(tag: string, i: number): Buffer {
  const b = randomBytes(BODY);
  b.write(`${tag}:${i}:`);
  return b;
}
const keys = (i: number): string[] => [
  `sha256:${randomBytes(32).toString('hex')}`,
  `${randomBytes(32).toString('hex')}`,
  `user${i % 1000}@example.com`,
];

/** Appends n entries with bounded concurrency; returns the overall rate and entries/s per second of the run. */
async function fill(
  log: TransparencyLog,
  n: number,
  tag: string,
): Promise<{ seconds: number; rate: number; perSecond: number[] }> {
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
      await d.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [name],
      );
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

async function sqlite(): Promise<unknown> {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-scale-'));
  try {
    const log = await createLog({
      store: await openSqliteStore({ dir }),
      signTreeHead: signer,
      maxBatch: 1024,
    });
    const r = await fill(log, N, 's');
    await log.close();
    const bytes = readdirSync(dir)
      .filter((f) => f === 'log.db')
      .reduce((n, f) => n + statSync(join(dir, f)).size, 0);
    return {
      ...r,
      bytesPerEntry: Math.round(bytes / N),
      bodyBytes: BODY,
      ratio: +(bytes / N / BODY).toFixed(2),
    };
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
    return {
      ...r,
      bytesPerEntry: Math.round(bytes / N),
      bodyBytes: BODY,
      ratio: +(bytes / N / BODY).toFixed(2),
    };
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
      spawn(
        process.execPath,
        ['--import', 'tsx', 'bench/log-scale.ts', '--child', db.url, '--tag', tag, '--entries', String(N)],
        {
          stdio: ['pipe', 'pipe', 'inherit'],
        },
      ),
    );
    const outs = kids.map((k) => {
      let out = '';
      k.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      return {
        ready: new Promise<void>((r) => k.stdout!.on('data', () => out.includes('ready') && r())),
        done: new Promise<string>((r) => k.on('close', () => r(out))),
      };
    });
    await Promise.all(outs.map((o) => o.ready));
    const t0 = performance.now();
    for (const k of kids) k.stdin!.end('go\n');
    const texts = await Promise.all(outs.map((o) => o.done));
    const seconds = (performance.now() - t0) / 1000;
    const replicas = texts.map(
      (t) =>
        JSON.parse(t.split('\n').find((l) => l.startsWith('{'))!) as {
          rate: number;
          seconds: number;
          role: string;
        },
    );
    const wall = Math.max(...replicas.map((r) => r.seconds));
    return {
      replicas,
      totalRate: Math.round(N / wall),
      wallSeconds: +wall.toFixed(2),
      processSeconds: +seconds.toFixed(2),
    };
  } finally {
    await db.drop();
  }
}

/** CPU seconds (user + system, all threads) a process has used, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'latin1')
    .replace(/^.*\) /, '')
    .split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function startReplica(url: string, dataDir: string): Promise<{ proc: ChildProcess; url: string }> {
  return startLogServer([
    '--store',
    'postgres',
    '--database-url',
    url,
    '--data-dir',
    dataDir,
    '--public-url',
    'http://sigil-log.bench',
  ]);
}

/** bench/log.ts (hashedrekord over HTTP) against each replica at once, clients split between them. */
async function httpReplicas(count: number): Promise<unknown> {
  const db = await freshDb();
  const keyDir = mkdtempSync(join(tmpdir(), 'sigil-scale-key-'));
  const barrier = mkdtempSync(join(tmpdir(), 'sigil-scale-barrier-'));
  const replicas: { proc: ChildProcess; url: string }[] = [];
  try {
    await migratePostgres(db.url);
    replicas.push(await startReplica(db.url, keyDir)); // creates the shared signing key
    for (let i = 1; i < count; i++) replicas.push(await startReplica(db.url, keyDir));
    const seconds = Number(values['http-seconds']);
    const clients = Math.ceil(Number(values['http-clients']) / count);
    const cpu0 = replicas.map((r) => cpuSeconds(r.proc.pid!));
    // The load generators prepare their bodies, then start together (see startBarrier in bench/log.ts).
    const startFile = join(barrier, 'start');
    const readyFile = (i: number): string => join(barrier, `ready-${i}`);
    const runs = replicas.map(
      (r, i) =>
        new Promise<{
          entriesPerSecond: number;
          latencyMs: { p50: number; p99: number };
          otherResponses: object;
        }>((resolve, reject) => {
          const env = {
            ...process.env,
            BENCH_URL: r.url,
            BENCH_SECONDS: String(seconds),
            BENCH_CLIENTS: String(clients),
          };
          const env2 = {
            ...env,
            BENCH_PREPARED: String(Math.ceil((seconds + 2) * 8000)),
            BENCH_KEYS: '256',
            BENCH_READY_FILE: readyFile(i),
            BENCH_START_FILE: startFile,
          };
          const p = spawn(process.execPath, ['--import', 'tsx', 'bench/log.ts'], {
            cwd: ROOT,
            stdio: ['ignore', 'pipe', 'inherit'],
            env: env2,
          });
          let out = '';
          p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
          p.once('exit', (code) =>
            code === 0 ? resolve(JSON.parse(out) as never) : reject(new Error(`bench/log.ts exited ${code}`)),
          );
        }),
    );
    let failed = false;
    const all = Promise.all(runs);
    all.catch(() => (failed = true));
    while (!failed && !replicas.every((_, i) => existsSync(readyFile(i))))
      await new Promise((res) => setTimeout(res, 20));
    writeFileSync(startFile, '');
    const t0 = performance.now();
    const results = await all;
    const wall = (performance.now() - t0) / 1000;
    const cpu = replicas.map((r, i) => cpuSeconds(r.proc.pid!) - cpu0[i]!);
    const total = results.reduce((n, r) => n + r.entriesPerSecond, 0);
    const roles = await replicaRoles(db.url);
    return {
      replicas: count,
      entriesPerSecond: total,
      perReplica: results.map((r, i) => ({
        role: roles.get(replicas[i]!.proc.pid!) ?? 'follower',
        entriesPerSecond: r.entriesPerSecond,
        latencyMs: r.latencyMs,
        other: r.otherResponses,
      })),
      // CPU of all replica processes over the whole run (load generators' prepare phase included, so an upper bound per entry).
      replicaCpuSeconds: +cpu.reduce((a, b) => a + b, 0).toFixed(2),
      wallSeconds: +wall.toFixed(1),
    };
  } finally {
    await Promise.all(replicas.map((r) => stopLogServer(r.proc)));
    rmSync(keyDir, { recursive: true, force: true });
    rmSync(barrier, { recursive: true, force: true });
    await db.drop();
  }
}

/** pid → 'sequencer' for the process holding the sequencer lock (its connection's application_name). */
async function replicaRoles(url: string): Promise<Map<number, string>> {
  const c = new pg.Client(url);
  await c.connect();
  try {
    const r = await c.query<{ name: string }>(
      `SELECT a.application_name AS name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
       WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()`,
    );
    const m = new Map<number, string>();
    for (const row of r.rows) {
      const x = /^sigil-log-sequencer:(\d+)$/.exec(row.name);
      if (x) m.set(Number(x[1]), 'sequencer');
    }
    return m;
  } finally {
    await c.end();
  }
}

if (values.child) {
  await child(values.child);
} else {
  const only = new Set(values.only!.split(','));
  const out: Record<string, unknown> = {
    entries: N,
    bodyBytes: BODY,
    cpus: (await import('node:os')).availableParallelism(),
  };
  const step = async (key: string, name: string, fn: () => Promise<unknown>): Promise<void> => {
    if (!only.has(key)) return;
    out[name] = await fn();
    process.stderr.write(`${name}: ${JSON.stringify(out[name])}\n`);
  };
  await step('sqlite', 'sqlite', sqlite);
  await step('pg1', 'postgres1Replica', pg1);
  await step('pg2', 'postgres2Replicas', pg2);
  await step('http', 'httpPostgres1Replica', () => httpReplicas(1));
  await step('http', 'httpPostgres2Replicas', () => httpReplicas(2));
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}
