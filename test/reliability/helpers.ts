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
  t.after(() => rmSync(dir, { recursive: true, force: true }));
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
export function entryMaker(keys: { privateKey: KeyObject; publicKey: KeyObject } = generateP256()): () => string {
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
  startTimeoutMs = 30_000,
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
