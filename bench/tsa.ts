/**
 * `npm run bench:tsa`: RFC 3161 timestamps per second over HTTP from 64 clients (wrk, one thread,
 * its own process) against `sigil tsa serve`'s server in this process, with the machine's raw
 * single-core P-256 sign rate measured in the same run as the baseline, and the token builder's
 * rate without HTTP. Prints one JSON object.
 *
 * Env: BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 64).
 */
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTsaServer } from '../src/tsa/server.js';
import { createTimestamper } from '../src/tsa/token.js';
import { parseJsonRequest } from '../src/tsa/request.js';
import { round } from './measure.js';
import { runWrkScript, WRK_BIN } from './wrk.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const GOAL = 8000;
const FLOOR = 5000;
const P99_GOAL_MS = 20;

const SCRIPT = `
local threads = {}
function setup(thread) table.insert(threads, thread) end
ok, other = 0, 0
local body
function init(args) body = io.open(args[1]):read("*a") end
function request()
  return wrk.format("POST", "/api/v1/timestamp", { ["Content-Type"] = "application/json" }, body)
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

async function main(): Promise<void> {
  if (!existsSync(WRK_BIN)) throw new Error(`${WRK_BIN} is needed (apt-get install wrk)`);
  const dir = mkdtempSync(join(tmpdir(), 'sigil-bench-tsa-'));
  const server = await createTsaServer({ dataDir: join(dir, 'tsa'), port: 0, logLevel: 'silent' });
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

    const signRate = rawSignRate();
    let serial = 0n;
    const builder = createTimestamper({
      key: server.material.key,
      chainDer: server.material.chainDer,
      policy: '1.3.6.1.4.1.57264.2',
      nextSerial: () => ++serial,
    });
    const req = Buffer.from(body);
    for (let i = 0; i < 500; i++) builder.grant(parseJsonRequest(req));
    let built = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < 1500) {
      builder.grant(parseJsonRequest(req));
      built++;
    }
    const tokenRate = built / ((performance.now() - t0) / 1000);

    const r = await runWrkScript<{
      ok: number;
      other: number;
      durationUs: number;
      p50: number;
      p99: number;
      max: number;
    }>(['-t1', `-c${CONNECTIONS}`, `-d${SECONDS}s`, '--latency', '-s', scriptFile, server.url, bodyFile]);
    const perSecond = r.ok / (r.durationUs / 1e6);
    const p99Ms = r.p99 / 1000;
    process.stdout.write(
      `${JSON.stringify(
        {
          bench: 'tsa',
          connections: CONNECTIONS,
          seconds: round(r.durationUs / 1e6),
          timestamps: r.ok,
          failed: r.other,
          timestampsPerSecond: round(perSecond),
          latencyMs: { p50: round(r.p50 / 1000), p99: round(p99Ms), max: round(r.max / 1000) },
          baseline: {
            rawP256SignsPerSecondOneCore: round(signRate),
            tokenBuildsPerSecondNoHttp: round(tokenRate),
            httpRateOverRawSign: round(perSecond / signRate),
          },
          goal: { perSecond: GOAL, floor: FLOOR, p99Ms: P99_GOAL_MS },
          meetsGoal: perSecond >= GOAL && p99Ms < P99_GOAL_MS,
          meetsFloor: perSecond >= FLOOR,
          cores: cpus().length,
          loadAverage: loadavg().map(round),
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:tsa: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
