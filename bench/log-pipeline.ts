/**
 * `npx tsx bench/log-pipeline.ts`: the Rekor append path in one process without HTTP (worker pool,
 * log core, SQLite store on its thread, SET attestor), C appends in flight, and the CPU each thread
 * spent per entry (/proc/self/task, 10 ms ticks: N ≫ 1,000 for µs precision). Thread CPU holds up
 * on a loaded machine far better than entries/s. Env: N (20000), C (64), WARM (5000).
 * CALLGRIND=1 under `valgrind --tool=callgrind --separate-threads=yes` zeroes the counters after
 * the warm-up and dumps them after the measured appends (instructions per thread, load-independent).
 */
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLog } from '../src/log/index.js';
import { openShards } from '../src/log/shards/open.js';
import { rekorCheckpointSigner } from '../src/rekor/checkpoint.js';
import { loadOrCreateLogKey } from '../src/rekor/log-key.js';
import { createWorkerPool, type RekorWorkers } from '../src/rekor/pool.js';
import { RekorService, rekorSetAttestor } from '../src/rekor/service.js';
import { ShardSet } from '../src/rekor/shards.js';

const N = Number(process.env.N ?? 20_000);
const C = Number(process.env.C ?? 64);
const WARM = Number(process.env.WARM ?? 5000);

function bodies(count: number): string[] {
  const keys = Array.from({ length: 256 }, () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return {
      privateKey,
      pem: Buffer.from(publicKey.export({ type: 'spki', format: 'pem' })).toString('base64'),
    };
  });
  return Array.from({ length: count }, (_, i) => {
    const k = keys[i % keys.length]!;
    const data = randomBytes(32);
    return JSON.stringify({
      apiVersion: '0.0.1',
      kind: 'hashedrekord',
      spec: {
        signature: {
          content: sign('sha256', data, k.privateKey).toString('base64'),
          publicKey: { content: k.pem },
        },
        data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(data).digest('hex') } },
      },
    });
  });
}

const ticks = (tid: string): number => {
  const f = readFileSync(`/proc/self/task/${tid}/stat`, 'latin1')
    .replace(/^.*\) /, '')
    .split(' ');
  return Number(f[11]) + Number(f[12]);
};
const threads = (): Map<string, number> =>
  new Map(readdirSync('/proc/self/task').map((tid) => [tid, ticks(tid)]));
const callgrind = (flag: string): void => {
  if (process.env.CALLGRIND === '1')
    execFileSync('callgrind_control', [flag, String(process.pid)], { stdio: 'ignore' });
};

const dir = mkdtempSync(join(tmpdir(), 'sigil-bench-pipeline-'));
const key = loadOrCreateLogKey(dir);
const shards = await openShards(dir);
const { treeId } = await shards.active.store.load();
const workers: RekorWorkers = await createWorkerPool(
  2,
  key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
);
const log = await createLog({
  store: shards.active.store,
  signTreeHead: rekorCheckpointSigner(key, 'localhost', treeId),
  attest: rekorSetAttestor(() => workers, key.logId, 0),
});
const svc = new RekorService(log, workers, key, new ShardSet(log, 0, shards.inactive));
const all = bodies(N + WARM);
let cursor = 0;
const run = async (count: number): Promise<void> => {
  const end = cursor + count;
  await Promise.all(
    Array.from({ length: C }, async () => {
      while (cursor < end) await svc.create(all[cursor++]!);
    }),
  );
};

await run(WARM);
callgrind('-z');
const before = threads();
const cpu0 = process.cpuUsage();
await run(N);
const cpu = process.cpuUsage(cpu0);
callgrind('-d');
const after = threads();
const main = String(process.pid);
const perEntry = (t: number): number => Math.round((t * 10_000) / N);
const others = [...after]
  .filter(([tid]) => tid !== main)
  .map(([tid, t]) => perEntry(t - (before.get(tid) ?? 0)))
  .filter((us) => us > 0)
  .sort((a, b) => b - a);
process.stdout.write(
  `${JSON.stringify({
    benchmark: 'log-append-pipeline-in-process',
    entries: N,
    inFlight: C,
    processCpuUsPerEntry: Math.round((cpu.user + cpu.system) / N),
    mainThreadCpuUsPerEntry: perEntry((after.get(main) ?? 0) - (before.get(main) ?? 0)),
    otherThreadsCpuUsPerEntry: others,
  })}\n`,
);
await log.close();
await workers.close();
rmSync(dir, { recursive: true, force: true });
