/**
 * `npm run bench:tsa`: RFC 3161 timestamps per second over HTTP from 64 clients (wrk, one thread,
 * its own process) against `sigil tsa serve`'s server in this process, with the machine's raw
 * single-core P-256 sign rate measured in the same run as the baseline. Two servers in one run:
 * `before` (every token through asn1-schema, the route through Fastify) and `after` (the template
 * builder on the plain node:http route, what `sigil tsa serve` runs). Besides the rates, which a
 * loaded machine distorts, it prints CPU time per timestamp: the server's process CPU over the
 * wrk run per answered request, and in-process per token (builders interleaved A/B, request
 * parsing apart), which hold under load.
 *
 * A third run sends OpenSSL's DER query instead of the JSON form; a fourth runs `--workers 2`
 * (server CPU summed over the worker processes from /proc).
 *
 * Env: BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 64), BENCH_BEFORE=0 skips `before`,
 * BENCH_DER=0 the DER run, BENCH_WORKERS (default 2; 1 skips the cluster run).
 */
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { signDigestEc } from '../src/crypto/prehashed.js';
import { startTsaCluster } from '../src/tsa/cluster.js';
import { createTsaServer, type TsaServerConfig } from '../src/tsa/server.js';
import { processCpuMs } from './admission-load.js';
import { createTimestamper, type Timestamper } from '../src/tsa/token.js';
import { parseDerRequest, parseJsonRequest } from '../src/tsa/request.js';
import type { TsaMaterial } from '../src/tsa/keys.js';
import { round } from './measure.js';
import { runWrkScript, WRK_BIN } from './wrk.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const GOAL = 8000;
const FLOOR = 5000;
const P99_GOAL_MS = 20;
const JSON_TYPE = 'application/json';
const DER_TYPE = 'application/timestamp-query';

const SCRIPT = `
local threads = {}
function setup(thread) table.insert(threads, thread) end
ok, other = 0, 0
local body, ctype
function init(args) body = io.open(args[1], "rb"):read("*a"); ctype = args[2] end
function request()
  return wrk.format("POST", "/api/v1/timestamp", { ["Content-Type"] = ctype }, body)
end
function response(status, hdrs, b)
  if status == 200 and #b > 200 then ok = ok + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local t = threads[1]
  io.write(string.format('WRK_RESULT {"ok":%d,"other":%d,"durationUs":%d,"p50":%d,"p99":%d,"max":%d}\\n',
    t:get("ok"), t:get("other"), summary.duration,
    latency:percentile(50), latency:percentile(99), latency.max))
end
`;

/** Raw node:crypto P-256 signatures per second on one core (the TSA's irreducible cost). */
function rawSignRate(ms = 1500): number {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const data = randomBytes(160);
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    for (let i = 0; i < 100; i++) sign('sha256', data, privateKey);
    n += 100;
  }
  return n / ((performance.now() - start) / 1000);
}

/** CPU microseconds (user + system, this process) per call of `f`, over `n` calls. */
function cpuPerCall(n: number, f: () => void): number {
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) f();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** In-process CPU per token of both builders and of the request parsers, interleaved in rounds. */
function perTokenCpu(material: TsaMaterial, jsonBody: Buffer, derBody: Buffer) {
  let serial = 0n;
  const builder = (b: 'template' | 'library'): Timestamper =>
    createTimestamper({
      key: material.key,
      chainDer: material.chainDer,
      policy: '1.3.6.1.4.1.57264.2',
      nextSerial: () => ++serial,
      builder: b,
    });
  const library = builder('library');
  const template = builder('template');
  const req = parseJsonRequest(jsonBody);
  const digest = randomBytes(32);
  const data = randomBytes(160);
  for (let i = 0; i < 300; i++) {
    library.grant(req);
    template.grant(req);
    parseDerRequest(derBody);
  }
  const r = { library: [] as number[], template: [] as number[], json: [] as number[], der: [] as number[] };
  const sign_ = { nodeCrypto: [] as number[], nativeDigest: [] as number[] };
  for (let round = 0; round < 5; round++) {
    r.library.push(cpuPerCall(300, () => library.grant(req)));
    r.template.push(cpuPerCall(3000, () => template.grant(req)));
    r.json.push(cpuPerCall(3000, () => parseJsonRequest(jsonBody)));
    r.der.push(cpuPerCall(1000, () => parseDerRequest(derBody)));
    sign_.nodeCrypto.push(cpuPerCall(3000, () => sign('sha256', data, material.key)));
    sign_.nativeDigest.push(cpuPerCall(3000, () => signDigestEc(material.key, digest)));
  }
  return {
    tokenLibrary: round(median(r.library)),
    tokenTemplate: round(median(r.template)),
    libraryOverTemplate: round(median(r.library) / median(r.template)),
    // A token's CPU in raw node:crypto signatures (1 would be the signature alone).
    templateOverNodeSign: round(median(r.template) / median(sign_.nodeCrypto)),
    libraryOverNodeSign: round(median(r.library) / median(sign_.nodeCrypto)),
    parseJsonRequest: round(median(r.json)),
    parseDerRequest: round(median(r.der)),
    signNodeCrypto: round(median(sign_.nodeCrypto)),
    signNativeDigest: round(median(sign_.nativeDigest)),
  };
}

interface WrkResult {
  ok: number;
  other: number;
  durationUs: number;
  p50: number;
  p99: number;
  max: number;
}

/** Server CPU so far in µs: this process, and the workers of a cluster (from /proc). */
const serverCpuUs = (pids: number[]): number => {
  const own = process.cpuUsage();
  return own.user + own.system + pids.reduce((sum, p) => sum + processCpuMs(p) * 1000, 0);
};

/**
 * One wrk run against a fresh server with `hotPath` (in this process, or `workers` processes);
 * the server's CPU per answered request.
 */
async function overHttp(
  dir: string,
  name: string,
  hotPath: TsaServerConfig['hotPath'],
  files: string[],
  workers = 1,
) {
  const config = { dataDir: join(dir, 'tsa'), port: 0, logLevel: 'silent', hotPath };
  const server = workers > 1 ? await startTsaCluster(config, workers) : await createTsaServer(config);
  const pids = 'pids' in server ? server.pids() : [];
  try {
    const cpu0 = serverCpuUs(pids);
    const r = await runWrkScript<WrkResult>([
      '-t1',
      `-c${CONNECTIONS}`,
      `-d${SECONDS}s`,
      '--latency',
      '-s',
      files[0]!,
      server.url,
      files[1]!,
      files[2]!,
    ]);
    const cpuUs = serverCpuUs(pids) - cpu0;
    const perSecond = r.ok / (r.durationUs / 1e6);
    return {
      name,
      hotPath,
      workers,
      seconds: round(r.durationUs / 1e6),
      timestamps: r.ok,
      failed: r.other,
      timestampsPerSecond: round(perSecond),
      latencyMs: { p50: round(r.p50 / 1000), p99: round(r.p99 / 1000), max: round(r.max / 1000) },
      serverCpuUsPerTimestamp: r.ok > 0 ? round(cpuUs / r.ok) : null,
    };
  } finally {
    await server.close();
  }
}

async function main(): Promise<void> {
  if (!existsSync(WRK_BIN)) throw new Error(`${WRK_BIN} is needed (apt-get install wrk)`);
  const dir = mkdtempSync(join(tmpdir(), 'sigil-bench-tsa-'));
  try {
    const body = JSON.stringify({
      artifactHash: randomBytes(32).toString('base64'),
      hashAlgorithm: 'sha256',
      nonce: 1234567,
    });
    const bodyFile = join(dir, 'body.json');
    const scriptFile = join(dir, 'tsa.lua');
    writeFileSync(bodyFile, body);
    writeFileSync(scriptFile, SCRIPT);
    writeFileSync(join(dir, 'data'), 'bench');
    const q = spawnSync('openssl', ['ts', '-query', '-data', join(dir, 'data'), '-sha256', '-cert'], {
      maxBuffer: 1 << 20,
    });
    if (q.status !== 0) throw new Error('openssl ts -query failed (openssl is needed)');
    const derBody = q.stdout;

    const signRate = rawSignRate();
    // The key material is created once here and reused by both servers (same data dir).
    const first = await createTsaServer({ dataDir: join(dir, 'tsa'), port: 0, logLevel: 'silent' });
    await first.close();
    const cpu = perTokenCpu(first.material, Buffer.from(body), derBody);

    const runs = [];
    if (process.env.BENCH_BEFORE !== '0')
      runs.push(
        await overHttp(dir, 'before', { http: 'fastify', builder: 'library' }, [
          scriptFile,
          bodyFile,
          JSON_TYPE,
        ]),
      );
    const after = await overHttp(dir, 'after', { http: 'node', builder: 'template' }, [
      scriptFile,
      bodyFile,
      JSON_TYPE,
    ]);
    runs.push(after);
    if (process.env.BENCH_DER !== '0') {
      const derFile = join(dir, 'query.tsq');
      writeFileSync(derFile, derBody);
      runs.push(
        await overHttp(dir, 'after, DER query (OpenSSL, cosign)', { http: 'node', builder: 'template' }, [
          scriptFile,
          derFile,
          DER_TYPE,
        ]),
      );
    }
    const workers = Number(process.env.BENCH_WORKERS ?? 2);
    if (workers > 1)
      runs.push(
        await overHttp(
          dir,
          `after, ${workers} worker processes`,
          { http: 'node', builder: 'template' },
          [scriptFile, bodyFile, JSON_TYPE],
          workers,
        ),
      );
    const best = runs
      .filter((r) => r.name.startsWith('after') && !r.name.includes('DER'))
      .reduce((a, b) => (b.timestampsPerSecond > a.timestampsPerSecond ? b : a));
    const p99Ms = best.latencyMs.p99;
    process.stdout.write(
      `${JSON.stringify(
        {
          bench: 'tsa',
          connections: CONNECTIONS,
          request: 'JSON (what @sigstore/sign sends), sha256 imprint, nonce',
          best: best.name,
          timestampsPerSecond: best.timestampsPerSecond,
          latencyMs: best.latencyMs,
          runs,
          cpuUsPerToken: cpu,
          baseline: {
            rawP256SignsPerSecondOneCore: round(signRate),
            httpRateOverRawSign: round(best.timestampsPerSecond / signRate),
          },
          goal: { perSecond: GOAL, floor: FLOOR, p99Ms: P99_GOAL_MS },
          meetsGoal: best.timestampsPerSecond >= GOAL && p99Ms < P99_GOAL_MS,
          meetsFloor: best.timestampsPerSecond >= FLOOR,
          cores: cpus().length,
          loadAverage: loadavg().map(round),
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:tsa: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
