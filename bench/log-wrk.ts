/**
 * wrk (Debian's, C, one thread, its own process) as the load generator of bench/log.ts: each
 * request POSTs the next prepared hashedrekord body from a file (one JSON per line, each used
 * once, so every entry is new), and the answers are counted by status. Far cheaper in CPU per
 * request than a Node client, which matters when client and server share two cores.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLOCK_TICKS_PER_SECOND, runWrkScript, WRK_BIN } from './wrk.js';

export { WRK_BIN };

export const wrkAvailable = (): boolean => process.env.BENCH_LOADGEN !== 'node' && existsSync(WRK_BIN);

export interface WrkRun {
  created: number;
  /** Answers other than 201, by status. */
  other: Record<string, number>;
  /** Bodies ran out before the time did (later requests repeat the last one: 409s). */
  exhausted: boolean;
  seconds: number;
  latencyMs: { p50: number; p99: number; max: number };
  /** wrk's own CPU time (its whole life), ms. */
  cpuMs: number;
}

// Globals (ok, other, used, ...) are read back per thread by done() through thread:get.
const SCRIPT = `
local threads = {}
function setup(thread) table.insert(threads, thread) end
created, exhausted, others = 0, 0, ""
local counts = {}
local lines, last
local headers = { ["Content-Type"] = "application/json" }
function init(args) lines = io.lines(args[1]) end
function request()
  -- io.lines closes the file at its end, after which calling it again is an error.
  local body = nil
  if exhausted == 0 then body = lines() end
  if body == nil then exhausted = 1; body = last else last = body end
  return wrk.format("POST", "__PATH__", headers, body)
end
function response(status, hdrs, body)
  if status == 201 then created = created + 1
  else
    counts[status] = (counts[status] or 0) + 1
    local parts = {}
    for s, n in pairs(counts) do table.insert(parts, '"' .. s .. '":' .. n) end
    others = table.concat(parts, ",")
  end
end
function done(summary, latency, requests)
  local t = threads[1]
  local stat = io.open("/proc/self/stat"):read("*a")
  local f = {}
  for w in string.gmatch(string.match(stat, "%) (.*)"), "%S+") do table.insert(f, w) end
  io.write(string.format('WRK_RESULT {"created":%d,"other":{%s},"exhausted":%d,"durationUs":%d,' ..
    '"p50":%d,"p99":%d,"max":%d,"cpuTicks":%d}\\n',
    t:get("created"), t:get("others"), t:get("exhausted"), summary.duration,
    latency:percentile(50), latency:percentile(99), latency.max, tonumber(f[12]) + tonumber(f[13])))
end
`;

/** One wrk run of `seconds` with `clients` connections over the given request bodies. */
export async function runWrk(
  url: string,
  bodies: readonly string[],
  clients: number,
  seconds: number,
  path = '/api/v1/log/entries',
): Promise<WrkRun> {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-bench-log-wrk-'));
  try {
    const script = join(dir, 'log.lua');
    const data = join(dir, 'bodies.jsonl');
    writeFileSync(script, SCRIPT.replace('__PATH__', path));
    writeFileSync(data, `${bodies.join('\n')}\n`);
    const w = await runWrkScript<{
      created: number;
      other: Record<string, number>;
      exhausted: number;
      durationUs: number;
      p50: number;
      p99: number;
      max: number;
      cpuTicks: number;
    }>(['-t1', `-c${clients}`, `-d${seconds}s`, '--timeout', '10s', '-s', script, url, '--', data]);
    return {
      created: w.created,
      other: w.other,
      exhausted: w.exhausted === 1,
      seconds: w.durationUs / 1e6,
      latencyMs: { p50: w.p50 / 1000, p99: w.p99 / 1000, max: w.max / 1000 },
      cpuMs: (w.cpuTicks / CLOCK_TICKS_PER_SECOND) * 1000,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
