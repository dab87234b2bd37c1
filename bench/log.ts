/**
 * `npm run bench:log`: throughput and latency of `POST /api/v1/log/entries` (hashedrekord) on a
 * log server running in its own process, with durable commits and a SET + inclusion proof in
 * every response; next to it, the machine's raw single-core ECDSA P-256 verify rate measured in
 * the same run. Prints one JSON object.
 *
 * `npm run bench:log -- --api v2`: the same against a Rekor v2 log (`sigil log serve --api v2`,
 * `POST /api/v2/log/entries`, hashedrekord v0.0.2; every 201 after the durable commit with the
 * batch's signed checkpoint), and the v1 log measured in the same run as its baseline.
 *
 * Env: BENCH_SECONDS (10), BENCH_WARMUP_SECONDS (2), BENCH_CLIENTS (64), BENCH_KEYS (1024
 * distinct signer keys; entries are all distinct), BENCH_WORKERS (server worker threads),
 * BENCH_SERVER_ROOT=<dir> (the server of that checkout instead of this one), BENCH_LOG_ENTRY=bin (run
 * the server as `node bin/sigil.js`, the built CLI, instead of src/ through tsx),
 * BENCH_LOADGEN=node (the Node client even where Debian's wrk is installed; see log-wrk.ts),
 * BENCH_BASELINE=<git ref> (paired runs: the server at that ref and the current one, alternating,
 * BENCH_PAIRS rounds (2), on the same prepared bodies; prints both and their ratio).
 * Machine facts come with every figure: fsync latency in the data directory, CPU steal and busy
 * time over the run (/proc/stat) and the cores other work took while measuring, raw verify before
 * and after, the clock source, a thread round trip's cost, whether the native addon is built;
 * and the server's CPU per entry by thread (/proc/<pid>/task), so a figure can be read on any VM.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir, availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import {
  clockSource,
  cpuByThread,
  cpuShare,
  cpuTicks,
  fileSystemOf,
  fsyncLatencyMs,
  nativeAddon,
  threadRoundTrip,
  threadTicks,
} from './log-machine.js';
import { ROOT, startLogServer, stopLogServer } from './log-server.js';
import { percentile, rawVerifyRate, round } from './measure.js';
import { runWrk, WRK_BIN, wrkAvailable } from './log-wrk.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 64);
const KEYS = Number(process.env.BENCH_KEYS ?? 1024);
const WORKERS = process.env.BENCH_WORKERS;
type Api = 'v1' | 'v2';
const API: Api = (() => {
  const i = process.argv.indexOf('--api');
  const v = i >= 0 ? process.argv[i + 1] : 'v1';
  if (v !== 'v1' && v !== 'v2') throw new Error(`--api must be v1 or v2, not ${v}`);
  return v;
})();
const PATHS: Record<Api, string> = { v1: '/api/v1/log/entries', v2: '/api/v2/log/entries' };
/** Entries prepared up front: enough for ~20,000/s over warm-up and measurement. */
const PREPARED = Number(process.env.BENCH_PREPARED ?? Math.ceil((SECONDS + WARMUP) * 20_000));

/** `count` distinct hashedrekord request bodies (JSON, one line each) from KEYS signer keys. */
function prepareBodies(count: number, api: Api): string[] {
  const keys: { privateKey: KeyObject; pemB64: string; derB64: string }[] = [];
  for (let i = 0; i < KEYS; i++) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    keys.push({
      privateKey,
      pemB64: Buffer.from(publicKey.export({ type: 'spki', format: 'pem' })).toString('base64'),
      derB64: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    });
  }
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const k = keys[i % keys.length]!;
    const data = randomBytes(32);
    const digest = createHash('sha256').update(data).digest('hex');
    const signature = sign('sha256', data, k.privateKey).toString('base64');
    if (api === 'v2') {
      out.push(
        JSON.stringify({
          hashedRekordRequestV002: {
            digest: Buffer.from(digest, 'hex').toString('base64'),
            signature: {
              content: signature,
              verifier: { publicKey: { rawBytes: k.derB64 }, keyDetails: 'PKIX_ECDSA_P256_SHA_256' },
            },
          },
        }),
      );
      continue;
    }
    out.push(
      JSON.stringify({
        apiVersion: '0.0.1',
        kind: 'hashedrekord',
        spec: {
          signature: { content: signature, publicKey: { content: k.pemB64 } },
          data: { hash: { algorithm: 'sha256', value: digest } },
        },
      }),
    );
  }
  return out;
}

const frame = (host: string, body: string, api: Api): Buffer =>
  Buffer.from(
    `POST ${PATHS[api]} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );

interface Stats {
  ok: number;
  other: Map<number, number>;
  latencies: number[];
  measuring: boolean;
}

/** One keep-alive connection sending prepared requests back to back and timing each response. */
function runClient(
  port: number,
  next: () => Buffer | undefined,
  stats: Stats,
  until: () => boolean,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ port, host: '127.0.0.1', noDelay: true });
    let buf: Buffer = Buffer.alloc(0);
    let sentAt = 0;
    let counted = false;
    const send = (): void => {
      const req = until() ? undefined : next();
      if (!req) {
        socket.end();
        return;
      }
      counted = stats.measuring;
      sentAt = performance.now();
      socket.write(req);
    };
    socket.on('connect', send);
    socket.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      for (;;) {
        const headEnd = buf.indexOf('\r\n\r\n');
        if (headEnd < 0) return;
        const head = buf.subarray(0, headEnd).toString('latin1');
        const m = /content-length: *(\d+)/i.exec(head);
        const len = m ? Number(m[1]) : 0;
        if (buf.length < headEnd + 4 + len) return;
        const status = Number(head.slice(9, 12));
        buf = buf.subarray(headEnd + 4 + len);
        if (counted && stats.measuring) {
          if (status === 201) {
            stats.ok++;
            stats.latencies.push(performance.now() - sentAt);
          } else stats.other.set(status, (stats.other.get(status) ?? 0) + 1);
        }
        send();
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolve());
  });
}

/** What a load generator reports for the measuring window. */
interface Window {
  ok: number;
  other: Record<string, number>;
  latencyMs: { p50: number; p99: number; max: number };
  elapsed: number;
  exhausted: boolean;
  clientCpuMs: number;
  loadGenerator: string;
}

/** The Node fallback (BENCH_LOADGEN=node or no wrk): CLIENTS raw keep-alive sockets in this process. */
async function runNodeClients(
  port: number,
  bodies: string[],
  onStart: () => Promise<void>,
  onEnd: () => void,
  api: Api,
): Promise<Window> {
  const requests = bodies.map((b) => frame(`127.0.0.1:${port}`, b, api));
  let cursor = 0;
  const next = (): Buffer | undefined => requests[cursor++];
  const stats: Stats = { ok: 0, other: new Map(), latencies: [], measuring: false };
  let done = false;
  const clients = Array.from({ length: CLIENTS }, () => runClient(port, next, stats, () => done));
  await new Promise((r) => setTimeout(r, WARMUP * 1000));
  await onStart();
  const client0 = process.cpuUsage();
  stats.measuring = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  stats.measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  onEnd();
  const client = process.cpuUsage(client0);
  done = true;
  await Promise.all(clients);
  const lat = stats.latencies.sort((a, b) => a - b);
  return {
    ok: stats.ok,
    other: Object.fromEntries(stats.other),
    latencyMs: { p50: percentile(lat, 50), p99: percentile(lat, 99), max: lat[lat.length - 1] ?? NaN },
    elapsed,
    exhausted: cursor >= requests.length,
    clientCpuMs: (client.user + client.system) / 1000,
    loadGenerator: 'node (raw keep-alive sockets, the bench process)',
  };
}

/** CPU seconds (user + system, all threads) used so far by a process, from /proc; undefined elsewhere. */
function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'latin1')
      .replace(/^.*\) /, '')
      .split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return undefined;
  }
}

/**
 * Several load generators run together (bench/log-scale.ts, one per replica): each writes
 * BENCH_READY_FILE once its bodies are prepared, then waits for BENCH_START_FILE, so that their
 * measurement windows coincide whatever their preparation took.
 */
async function startBarrier(): Promise<void> {
  const ready = process.env.BENCH_READY_FILE;
  const start = process.env.BENCH_START_FILE;
  if (ready === undefined || start === undefined) return;
  writeFileSync(ready, '');
  while (!existsSync(start)) await new Promise((r) => setTimeout(r, 5));
}

/** One measured run against the server of the sources at `root`, on `bodies` (a fresh data directory). */
async function measure(root: string, bodies: string[], api: Api = 'v1'): Promise<Record<string, unknown>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sigil-bench-log-'));
  const verifyBefore = rawVerifyRate(1500);
  const fsyncMs = fsyncLatencyMs(dataDir);
  const handoff = await threadRoundTrip();
  // BENCH_URL targets a server started elsewhere (e.g. under a profiler).
  const { proc, url } = process.env.BENCH_URL
    ? { proc: undefined, url: process.env.BENCH_URL }
    : await startLogServer(
        [
          '--data-dir',
          dataDir,
          ...(api === 'v2' ? ['--api', 'v2'] : []),
          ...(WORKERS !== undefined ? ['--workers', WORKERS] : []),
        ],
        root,
      );
  try {
    const port = Number(new URL(url).port);
    await startBarrier();
    const ticks0 = cpuTicks();
    let window: Window;
    let startSize: { size: number } = { size: 0 };
    let cpu0: number | undefined;
    let cpu1: number | undefined;
    let threads0: Map<number, number> | undefined;
    let threads1: Map<number, number> | undefined;
    let window0: ReturnType<typeof cpuTicks>;
    let window1: ReturnType<typeof cpuTicks>;
    const onStart = async (): Promise<void> => {
      startSize = await treeSize(url, api);
      cpu0 = cpuSeconds(proc?.pid);
      threads0 = threadTicks(proc?.pid);
      window0 = cpuTicks();
    };
    const onEnd = (): void => {
      cpu1 = cpuSeconds(proc?.pid);
      threads1 = threadTicks(proc?.pid);
      window1 = cpuTicks();
    };
    if (wrkAvailable()) {
      // Warm-up and measurement each get their own bodies, in proportion to their time.
      const split = Math.floor((bodies.length * WARMUP) / (WARMUP + SECONDS));
      if (WARMUP > 0) await runWrk(url, bodies.slice(0, split), CLIENTS, WARMUP, PATHS[api]);
      await onStart();
      const w = await runWrk(url, bodies.slice(split), CLIENTS, SECONDS, PATHS[api]);
      onEnd();
      window = {
        ok: w.created,
        other: w.other,
        latencyMs: w.latencyMs,
        elapsed: w.seconds,
        exhausted: w.exhausted,
        clientCpuMs: w.cpuMs,
        loadGenerator: `wrk (${WRK_BIN}, 1 thread, own process)`,
      };
    } else {
      window = await runNodeClients(port, bodies, onStart, onEnd, api);
    }
    const ticks1 = cpuTicks();
    const endSize = await treeSize(url, api);
    const verifyAfter = rawVerifyRate(1500);
    const rawVerify = (verifyBefore + verifyAfter) / 2;
    const { ok, elapsed } = window;
    const rate = ok / elapsed;
    const serverCores = cpu0 === undefined || cpu1 === undefined ? null : (cpu1 - cpu0) / elapsed;
    const windowShare = cpuShare(window0, window1);
    const result = {
      benchmark: api === 'v2' ? 'rekor-v2-append-hashedrekord-0.0.2' : 'log-append-hashedrekord',
      entriesPerSecond: Math.round(rate),
      latencyMs: {
        p50: round(window.latencyMs.p50),
        p99: round(window.latencyMs.p99),
        max: round(window.latencyMs.max),
      },
      acknowledged: ok,
      otherResponses: window.other,
      seconds: round(elapsed),
      clients: CLIENTS,
      loadGenerator: window.loadGenerator,
      distinctSignerKeys: Math.min(KEYS, PREPARED),
      exhaustedPreparedEntries: window.exhausted,
      treeSizeGrowthDuringMeasurement: endSize.during(startSize),
      rawP256VerifyPerSecondOneCore: Math.round(rawVerify),
      rawVerifyBeforeAfter: [Math.round(verifyBefore), Math.round(verifyAfter)],
      ratioToRawVerify: round(rate / rawVerify),
      // CPU the server process (all its threads) spent per acknowledged entry while measuring:
      // steadier than entries/s when other work shares the machine.
      serverCpuMsPerEntry:
        cpu0 === undefined || cpu1 === undefined ? null : round(((cpu1 - cpu0) * 1000) / Math.max(1, ok)),
      serverCpuCores: serverCores === null ? null : round(serverCores),
      // The same by thread: main, then the others largest first (verifiers, store, GC helpers).
      serverCpuMsPerEntryByThread: cpuByThread(proc?.pid, threads0, threads1, ok),
      loadGeneratorCpuMsPerEntry: round(window.clientCpuMs / Math.max(1, ok)),
      // What every core of the machine would buy at the CPU per entry measured (server and load
      // generator together): a rate above it cannot be reached on this machine by shorter waits alone.
      cpuCeiling: cpuCeiling(cpu0, cpu1, window.clientCpuMs, ok, rawVerify),
      durability:
        api === 'v2'
          ? "SQLite WAL, synchronous=FULL; every 201 after its batch commit; inclusion proof + the batch's signed checkpoint in every response (no SET)"
          : 'SQLite WAL, synchronous=FULL; every 201 after its batch commit; SET + inclusion proof + signed checkpoint in every response',
      machine: {
        cpus: availableParallelism(),
        model: cpus()[0]?.model ?? 'unknown',
        node: process.version,
        fsyncLatencyMs: fsyncMs,
        dataDirFileSystem: fileSystemOf(dataDir),
        clockSource: clockSource(),
        nativeAddon: nativeAddon(root),
        // A message to a worker thread and back (the log hands every append across threads).
        threadRoundTrip: handoff,
        // Over the whole run (warm-up and measurement), all CPUs: time the hypervisor gave to others.
        cpu: cpuShare(ticks0, ticks1),
        // Cores busy with other work while measuring (the machine's busy time less the server's and the load generator's).
        otherLoadCores:
          windowShare === null || serverCores === null
            ? null
            : round(
                (windowShare.busyPercent * availableParallelism()) / 100 -
                  serverCores -
                  window.clientCpuMs / 1000 / elapsed,
              ),
      },
    };
    return result;
  } finally {
    if (proc) await stopLogServer(proc);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function cpuCeiling(
  cpu0: number | undefined,
  cpu1: number | undefined,
  clientCpuMs: number,
  ok: number,
  rawVerify: number,
): { entriesPerSecond: number; ratioToRawVerify: number } | null {
  if (cpu0 === undefined || cpu1 === undefined || ok === 0) return null;
  const msPerEntry = ((cpu1 - cpu0) * 1000 + clientCpuMs) / ok;
  const rate = (availableParallelism() * 1000) / msPerEntry;
  return { entriesPerSecond: Math.round(rate), ratioToRawVerify: round(rate / rawVerify) };
}

/** The sources at `ref` in a temporary directory, sharing this checkout's node_modules and native build. */
function checkoutOf(ref: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-bench-base-'));
  execFileSync('sh', ['-c', `git -C "${ROOT}" archive "${ref}" | tar -x -C "${dir}"`]);
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  if (existsSync(join(ROOT, 'native/build'))) {
    mkdirSync(join(dir, 'native'), { recursive: true });
    execFileSync('cp', ['-r', join(ROOT, 'native/build'), join(dir, 'native/')]);
  }
  return dir;
}

async function main(): Promise<void> {
  const prepStart = performance.now();
  const bodies = prepareBodies(PREPARED, API);
  const prepareSeconds = round((performance.now() - prepStart) / 1000);
  const baselineRef = process.env.BENCH_BASELINE;
  if (API === 'v2' && baselineRef === undefined) {
    // Baseline in the same run: the v1 log on the same machine, same clients, same duration.
    const v2 = await measure(ROOT, bodies, 'v2');
    const v1 = await measure(ROOT, prepareBodies(PREPARED, 'v1'), 'v1');
    process.stdout.write(
      `${JSON.stringify(
        {
          ...v2,
          baselineV1SameRun: {
            entriesPerSecond: v1.entriesPerSecond,
            latencyMs: v1.latencyMs,
            serverCpuMsPerEntry: v1.serverCpuMsPerEntry,
            cpuCeiling: v1.cpuCeiling,
            rawP256VerifyPerSecondOneCore: v1.rawP256VerifyPerSecondOneCore,
          },
          ratioV2ToV1: round((v2.entriesPerSecond as number) / (v1.entriesPerSecond as number)),
          prepareSeconds,
        },
        null,
        2,
      )}\n`,
    );
    return;
  }
  if (baselineRef === undefined) {
    // BENCH_SERVER_ROOT: the server of another checkout, alone (bench/paired-build.sh alternates runs).
    const root = process.env.BENCH_SERVER_ROOT ?? ROOT;
    process.stdout.write(
      `${JSON.stringify({ ...(await measure(root, bodies, API)), prepareSeconds }, null, 2)}\n`,
    );
    return;
  }
  const base = checkoutOf(baselineRef);
  try {
    const pairs = Number(process.env.BENCH_PAIRS ?? 2);
    const current: Record<string, unknown>[] = [];
    const baseline: Record<string, unknown>[] = [];
    for (let i = 0; i < pairs; i++) {
      // Alternate which goes first, so a drift of the machine falls on both.
      if (i % 2 === 0) current.push(await measure(ROOT, bodies, API));
      baseline.push(await measure(base, bodies, API));
      if (i % 2 === 1) current.push(await measure(ROOT, bodies, API));
    }
    const rates = (rs: Record<string, unknown>[]): number[] => rs.map((r) => r.entriesPerSecond as number);
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    process.stdout.write(
      `${JSON.stringify(
        {
          benchmark: 'log-append-hashedrekord-paired',
          baseline: baselineRef,
          entriesPerSecond: { current: rates(current), baseline: rates(baseline) },
          ratioCurrentToBaseline: round(mean(rates(current)) / mean(rates(baseline))),
          current,
          baselineRuns: baseline,
          prepareSeconds,
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

async function treeSize(
  url: string,
  api: Api,
): Promise<{ size: number; during(s: { size: number }): number }> {
  // A v2 log has no info endpoint: its published checkpoint (tlog-tiles, caught up after each batch).
  const size =
    api === 'v2'
      ? Number((await (await fetch(`${url}/checkpoint`)).text()).split('\n')[1] ?? 0)
      : ((await (await fetch(`${url}/api/v1/log`)).json()) as { treeSize: number }).treeSize;
  return { size, during: (s) => size - s.size };
}

await main();
