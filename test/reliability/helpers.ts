import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateP256, spkiDer, toPem } from '../../src/crypto/index.js';

export const ROOT = new URL('../../', import.meta.url).pathname;
/** `SIGIL_SOAK=1` (npm run test:soak) runs the full counts; CI runs the small ones. */
export const SOAK = process.env.SIGIL_SOAK === '1';

export function count(envName: string, ci: number, soak: number): number {
  const v = process.env[envName];
  if (v !== undefined && /^\d+$/.test(v)) return Number(v);
  return SOAK ? soak : ci;
}

export function tempDir(t: { after(fn: () => void): void }, prefix = 'sigil-rel-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  // Registered before the test's own after hooks (e.g. stopping the server writing into dir), so
  // it can race a live writer: it retries, and never throws, since a throwing after hook leaves
  // the later ones unrun and the spawned server alive, which hangs the test file (seen once in a
  // full run: ENOTEMPTY on the log's tiles/ in overload.test.ts, then no exit).
  t.after(() => {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    } catch {
      /* left in tmpdir */
    }
  });
  return dir;
}

/** A small deterministic PRNG (mulberry32) so a failing round can be replayed from its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');

/** Signs hashedrekord entries with one key (parsing the key once per request is the log's job, not ours). */
export function entryMaker(
  keys: { privateKey: KeyObject; publicKey: KeyObject } = generateP256(),
): () => string {
  const pem = b64(toPem('PUBLIC KEY', spkiDer(keys.publicKey)));
  let n = 0;
  const salt = Math.random().toString(36).slice(2);
  return () => {
    const data = Buffer.from(`reliability ${salt} ${n++}`);
    const digest = createHash('sha256').update(data).digest('hex');
    return JSON.stringify({
      apiVersion: '0.0.1',
      kind: 'hashedrekord',
      spec: {
        signature: { content: b64(sign('sha256', data, keys.privateKey)), publicKey: { content: pem } },
        data: { hash: { algorithm: 'sha256', value: digest } },
      },
    });
  };
}

export interface ServedProcess {
  proc: ChildProcess;
  url: string;
  stderr(): string;
  stdout(): string;
}

/** Spawns `sigil <args>` and waits for its "listening on <url>" line. */
export async function spawnServer(
  args: string[],
  env: Record<string, string> = {},
  startTimeoutMs = 120_000,
): Promise<ServedProcess> {
  const proc = spawn(process.execPath, ['bin/sigil.js', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SIGIL_LOG_LEVEL: 'silent', ...env },
  });
  let err = '';
  let out = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`sigil ${args.join(' ')} did not start: ${err}`));
    }, startTimeoutMs);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (https?:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sigil ${args.join(' ')} exited with ${code}: ${err}`));
    });
  });
  return { proc, url, stderr: () => err, stdout: () => out };
}

export function exited(proc: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (proc.exitCode !== null || proc.signalCode !== null)
    return Promise.resolve({ code: proc.exitCode, signal: proc.signalCode });
  return new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
}

export async function stop(proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill(signal);
  await exited(proc);
}

/** Resident set size of a process in bytes (Linux /proc). */
export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

export async function postJson(url: string, body: string, signal?: AbortSignal): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    ...(signal ? { signal } : {}),
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Rejects if `p` does not settle within `ms` (a hang is a failure, not a slow pass). */
export async function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export type ProxyMode = 'pass' | 'refuse' | 'hang' | 'drip';

/**
 * An HTTP proxy in front of a real server whose behaviour is chosen per request: pass it on,
 * reset the connection, never answer, or answer the headers and then drip the body a byte a second.
 */
export async function flakyProxy(
  target: string | (() => string),
  mode: (method: string, path: string) => ProxyMode,
): Promise<{ url: string; host: string; close(): Promise<void> }> {
  const { createServer } = await import('node:http');
  const sockets = new Set<import('node:net').Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer((req, res) => {
    const m = mode(req.method ?? 'GET', req.url ?? '/');
    if (m === 'refuse') {
      req.socket.destroy();
      return;
    }
    if (m === 'hang') return; // holds the socket open, answers nothing
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers = { ...req.headers };
      delete headers.host;
      delete headers['content-length'];
      void fetch(`${typeof target === 'string' ? target : target()}${req.url}`, {
        method: req.method,
        headers: headers as Record<string, string>,
        redirect: 'manual',
        ...(chunks.length ? { body: Buffer.concat(chunks) } : {}),
      })
        .then(async (up) => {
          const body = Buffer.from(await up.arrayBuffer());
          const out: Record<string, string> = {};
          up.headers.forEach((v, k) => {
            if (k !== 'content-encoding' && k !== 'transfer-encoding' && k !== 'connection') out[k] = v;
          });
          if (m === 'pass') {
            res.writeHead(up.status, { ...out, 'content-length': String(body.length) });
            res.end(body);
            return;
          }
          res.writeHead(up.status, { ...out, 'content-length': String(body.length) });
          let i = 0;
          const timer = setInterval(() => {
            if (i >= body.length || res.destroyed) {
              clearInterval(timer);
              timers.delete(timer);
              res.end();
              return;
            }
            res.write(body.subarray(i, i + 1));
            i++;
          }, 1000);
          timers.add(timer);
        })
        .catch(() => res.destroy());
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const t of timers) clearInterval(t);
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/**
 * `writers` concurrent loops of `append` until the server is SIGKILLed by `kill`, `killAfterMs`
 * after the first acknowledgement (or 15 s). `append` answers true for an acknowledged entry,
 * false for one lost to the kill (that writer stops), and throws on any other failure; `dead`
 * says whether the kill was sent.
 */
export async function appendUntilKilled(
  writers: number,
  append: (dead: () => boolean) => Promise<boolean>,
  kill: () => void,
  killAfterMs: number,
): Promise<void> {
  let dead = false;
  let firstAck: (() => void) | undefined;
  const started = new Promise<void>((r) => (firstAck = r));
  const writer = async (): Promise<void> => {
    while (!dead) {
      if (!(await append(() => dead))) return;
      firstAck?.();
    }
  };
  const running = Array.from({ length: writers }, writer);
  await Promise.race([started, sleep(15_000)]);
  await sleep(killAfterMs);
  kill();
  dead = true;
  await Promise.all(running);
}
