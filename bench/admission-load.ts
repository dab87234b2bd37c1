/**
 * Load generators for bench/admission.ts: keep-alive HTTP/1.1 over TLS, one request in flight
 * per connection, every answer checked (200, the uid it was sent with echoed, the expected
 * decision). Two implementations of one contract:
 * - wrk (Debian's `wrk`, C, epoll, one thread) driven by a generated Lua script: the standard
 *   tool, and far cheaper in CPU than any Node client on a small machine;
 * - a Node client (raw TLS sockets, pre-serialized bodies), the fallback when wrk is absent.
 * Each reports its own CPU time for the measuring window, so the bench can say how much of a
 * shared machine the client itself took.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { processTree } from '../test/admission/helpers.js';
import { percentile, round } from './measure.js';
import { CLOCK_TICKS_PER_SECOND, runWrkScript, WRK_BIN } from './wrk.js';

export { WRK_BIN };

export interface LoadSpec {
  port: number;
  ca: string;
  /** Request templates: body with `@@UID@@` where the uid goes; `expect` must appear in the answer. */
  requests: { path: string; body: string; expect: string }[];
  clients: number;
  warmupSeconds: number;
  seconds: number;
}

export interface LoadResult {
  ok: number;
  unexpected: number;
  errors: number;
  seconds: number;
  perSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** CPU (user + system) the load generator used in the measuring window, per answered review. */
  clientCpuMsPerReview: number;
  firstUnexpected?: string;
}

/** Called around the measuring window (e.g. to read the server's CPU time). */
export interface LoadHooks {
  onMeasureStart(): Promise<void>;
  onMeasureEnd(): Promise<void>;
}

export interface LoadGenerator {
  name: string;
  run(spec: LoadSpec, hooks: LoadHooks): Promise<LoadResult>;
}

/** wrk when installed (unless BENCH_LOADGEN=node), else the Node client. */
export function pickLoadGenerator(): { generator: LoadGenerator; note?: string } {
  const forced = process.env.BENCH_LOADGEN;
  if (forced !== 'node' && existsSync(WRK_BIN)) return { generator: wrkGenerator };
  return {
    generator: nodeGenerator,
    note:
      forced === 'node'
        ? 'BENCH_LOADGEN=node'
        : `${WRK_BIN} not found (apt-get install -y wrk): the Node client ran, which takes more CPU from the server`,
  };
}

// ---------------------------------------------------------------- Node client

async function runNode(spec: LoadSpec, hooks: LoadHooks): Promise<LoadResult> {
  let measuring = false;
  let stop = false;
  let seq = 0;
  const latencies: number[] = [];
  let ok = 0;
  let unexpected = 0;
  let errors = 0;
  let firstUnexpected: string | undefined;
  const parts = spec.requests.map((r) => {
    const [before, after] = r.body.split('@@UID@@') as [string, string];
    return { ...r, before, after };
  });
  let session: Buffer | undefined;

  const client = (index: number): Promise<void> =>
    new Promise((resolve) => {
      const socket: TLSSocket = connect({
        host: '127.0.0.1',
        port: spec.port,
        ca: spec.ca,
        ...(session ? { session } : {}),
      });
      socket.setNoDelay(true);
      socket.on('session', (s: Buffer) => (session ??= s));
      let buf: Buffer = Buffer.alloc(0);
      let sentAt = 0;
      let counted = false;
      let expectUid = '';
      let expect = '';
      let turn = index;
      const send = (): void => {
        if (stop) {
          socket.end();
          return;
        }
        const r = parts[turn++ % parts.length]!;
        expectUid = `bench-${++seq}`;
        expect = r.expect;
        const body = `${r.before}${expectUid}${r.after}`;
        counted = measuring;
        sentAt = performance.now();
        socket.write(
          `POST ${r.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        );
      };
      socket.on('secureConnect', send);
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
          const body = buf.subarray(headEnd + 4, headEnd + 4 + len).toString('utf8');
          buf = buf.subarray(headEnd + 4 + len);
          if (counted && measuring) {
            if (status === 200 && body.includes(`"uid":"${expectUid}"`) && body.includes(expect)) {
              ok++;
              latencies.push(performance.now() - sentAt);
            } else {
              unexpected++;
              firstUnexpected ??= `${status} ${body.slice(0, 600)}`;
            }
          }
          send();
        }
      });
      socket.on('error', () => {
        errors++;
        resolve();
      });
      socket.on('close', () => resolve());
    });

  // Connect one first so the others resume its TLS session, as a real API server's pool would.
  const first = client(0);
  await new Promise((r) => setTimeout(r, 100));
  const all = [first, ...Array.from({ length: spec.clients - 1 }, (_, i) => client(i + 1))];
  await new Promise((r) => setTimeout(r, spec.warmupSeconds * 1000));
  await hooks.onMeasureStart();
  // This process's CPU: the client, plus whatever else idles in it (the bench's stack).
  const cpu0 = process.cpuUsage();
  measuring = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, spec.seconds * 1000));
  measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await hooks.onMeasureEnd();
  stop = true;
  await Promise.all(all);
  const lat = Float64Array.from(latencies).sort();
  return {
    ok,
    unexpected,
    errors,
    seconds: round(elapsed),
    perSecond: Math.round(ok / elapsed),
    latencyMs: {
      p50: round(percentile(lat, 50)),
      p90: round(percentile(lat, 90)),
      p99: round(percentile(lat, 99)),
      max: round(lat[lat.length - 1] ?? NaN),
    },
    clientCpuMsPerReview: round((cpu.user + cpu.system) / 1000 / Math.max(1, ok)) || 0,
    ...(firstUnexpected ? { firstUnexpected } : {}),
  };
}

export const nodeGenerator: LoadGenerator = { name: 'node (raw TLS sockets, this process)', run: runNode };

// ---------------------------------------------------------------- wrk

/** A Lua long string that cannot be closed by the text it holds. */
function luaString(s: string): string {
  let eq = '=';
  while (s.includes(`]${eq}]`)) eq += '=';
  return `[${eq}[${s}]${eq}]`;
}

/**
 * The Lua script: request() cycles the templates, giving each request a fresh uid
 * `b<template>-<thread>-<n>` remembered as outstanding; response() accepts an answer only if it
 * is a 200 that names an outstanding uid and carries that template's expected decision.
 * wrk gives response() no connection, hence the outstanding-uid table. done() prints one JSON line with the counts, wrk's latency percentiles and wrk's own CPU time
 * (from /proc/self/stat, in clock ticks).
 */
function wrkScript(spec: LoadSpec): string {
  const templates = spec.requests
    .map((r) => {
      const [before, after] = r.body.split('@@UID@@') as [string, string];
      return `{ path = ${luaString(r.path)}, before = ${luaString(before)}, after = ${luaString(after)}, expect = ${luaString(r.expect)} }`;
    })
    .join(',\n  ');
  return `
local templates = {
  ${templates}
}
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
-- Globals of each thread's Lua state, read by done() through thread:get.
ok, unexpected, first = 0, 0, ""
local turn, n = 0, 0
local pending = {}
local headers = { ["Content-Type"] = "application/json", ["Host"] = "127.0.0.1" }
function request()
  turn = turn % #templates + 1
  n = n + 1
  local uid = "b" .. turn .. "-" .. tid .. "-" .. n
  pending[uid] = turn
  local t = templates[turn]
  return wrk.format("POST", t.path, headers, t.before .. uid .. t.after)
end
function response(status, hdrs, body)
  local uid = string.match(body, '"uid":"(b%d+%-%d+%-%d+)"')
  local t = uid and pending[uid]
  if uid then pending[uid] = nil end
  if status == 200 and t and string.find(body, templates[t].expect, 1, true) then
    ok = ok + 1
  else
    unexpected = unexpected + 1
    if first == "" then first = string.gsub(status .. " " .. string.sub(body, 1, 600), '[%c"\\\\]', " ") end
  end
end
function done(summary, latency, requests)
  local okAll, badAll, firstAll = 0, 0, ""
  for _, t in ipairs(threads) do
    okAll = okAll + t:get("ok")
    badAll = badAll + t:get("unexpected")
    if firstAll == "" then firstAll = t:get("first") end
  end
  local stat = io.open("/proc/self/stat"):read("*a")
  local fields = {}
  for w in string.gmatch(string.match(stat, "%) (.*)"), "%S+") do table.insert(fields, w) end
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"ok":%d,"unexpected":%d,"requests":%d,"durationUs":%d,"errors":%d,' ..
    '"p50":%d,"p90":%d,"p99":%d,"max":%d,"cpuTicks":%d,"first":"%s"}\\n',
    okAll, badAll, summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, tonumber(fields[12]) + tonumber(fields[13]), firstAll))
end
`;
}

interface WrkOutput {
  ok: number;
  unexpected: number;
  requests: number;
  durationUs: number;
  errors: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  cpuTicks: number;
  first: string;
}

function wrkOnce(script: string, spec: LoadSpec, seconds: number): Promise<WrkOutput> {
  return runWrkScript<WrkOutput>([
    '-t1',
    `-c${spec.clients}`,
    `-d${seconds}s`,
    '--timeout',
    '10s',
    '-s',
    script,
    `https://127.0.0.1:${spec.port}/`,
  ]);
}

async function runWrk(spec: LoadSpec, hooks: LoadHooks): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-bench-wrk-'));
  try {
    const script = join(dir, 'admission.lua');
    writeFileSync(script, wrkScript(spec));
    if (spec.warmupSeconds > 0) await wrkOnce(script, spec, spec.warmupSeconds);
    await hooks.onMeasureStart();
    const w = await wrkOnce(script, spec, spec.seconds);
    await hooks.onMeasureEnd();
    const elapsed = w.durationUs / 1e6;
    return {
      ok: w.ok,
      unexpected: w.unexpected,
      errors: w.errors,
      seconds: round(elapsed),
      perSecond: Math.round(w.ok / elapsed),
      latencyMs: {
        p50: round(w.p50 / 1000),
        p90: round(w.p90 / 1000),
        p99: round(w.p99 / 1000),
        max: round(w.max / 1000),
      },
      // wrk's whole life (its connection set-up included), over the answers of the window.
      clientCpuMsPerReview: round(((w.cpuTicks / CLOCK_TICKS_PER_SECOND) * 1000) / Math.max(1, w.ok)),
      ...(w.first ? { firstUnexpected: w.first } : {}),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const wrkGenerator: LoadGenerator = {
  name: `wrk (${WRK_BIN}, 1 thread, own process)`,
  run: runWrk,
};

/** CPU time (user + system, ms) of another process, from /proc/<pid>/stat; NaN when unreadable. */
export function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) / CLOCK_TICKS_PER_SECOND) * 1000;
  } catch {
    return NaN;
  }
}

/** CPU (user + system, ms) of `pid` and its live descendants: a cluster primary and its workers. */
export function processTreeCpuMs(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + (processCpuMs(p) || 0), 0);
}
