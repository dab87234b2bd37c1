/**
 * `npm run bench:ca`: certificate issuance throughput beside the raw P-256 sign rate of the same
 * run. Prints one JSON object.
 *
 * - without CT: in-process issuance (DER leaf + one signature);
 * - with CT: precertificate, durable CT append (after the precertificate's extra data is
 *   durably journaled), SCT over the final TBS, final certificate;
 * - HTTP with CT: `POST /api/v2/signingCert` on `sigil ca serve` in its own process, from
 *   keep-alive raw-socket clients; every request carries its own key and proof of possession,
 *   tokens (from the dev issuer) rotate, and each is verified in full (signature, claims).
 *
 * cpuMicrosPerCertificate is process CPU (all threads) per certificate: unlike the rates it
 * does not depend on how much of a shared machine the run gets.
 *
 * Env: BENCH_SECONDS (5), BENCH_WARMUP_SECONDS (1), BENCH_CONCURRENCY (in-process issuances in
 * flight, 2048), BENCH_HTTP_CLIENTS (256 connections), BENCH_TOKENS (64), BENCH_KEYS (1024),
 * BENCH_CA_NODE_ARGS (extra node flags for the CA process, e.g. `--cpu-prof`), BENCH_ONLY=http.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateCa, loadOrCreateKey, CA_FILES } from '../src/ca/keys.js';
import { createCertificateIssuer, type CertificateIssuer } from '../src/ca/issue.js';
import { createCtLog } from '../src/ca/ct/log.js';
import { createOidcServer } from '../src/oidc/dev-issuer.js';
import { devClaims } from '../src/oidc/dev-claims.js';
import { issuerFrom } from '../src/oidc/config.js';
import { principalFromClaims } from '../src/oidc/principal.js';
import { percentile } from './measure.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? process.argv[2] ?? 5);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 1);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 2048);
const HTTP_CLIENTS = Number(process.env.BENCH_HTTP_CLIENTS ?? 256);
const TOKENS = Number(process.env.BENCH_TOKENS ?? 64);
const KEYS = Number(process.env.BENCH_KEYS ?? 1024);
const ROOT = new URL('../', import.meta.url).pathname;
const SUBJECT = 'repo:org/repo:ref:refs/heads/main';

const round = (n: number, d = 2): number => Math.round(n * 10 ** d) / 10 ** d;
const cpuMicros = (): number => {
  const c = process.cpuUsage();
  return c.user + c.system;
};

function rawSignRate(key: KeyObject, ms = 1000): number {
  const data = Buffer.alloc(1000, 7);
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < ms) {
    for (let i = 0; i < 50; i++) sign('sha256', data, key);
    n += 50;
  }
  return (n / (performance.now() - start)) * 1000;
}

interface Rate {
  perSecond: number;
  cpuMicrosPerCertificate: number;
  latencyMs: { p50: number; p99: number };
}

/** Keeps CONCURRENCY issuances in flight; counts those completing inside the measured window. */
async function issueRate(issuer: CertificateIssuer, spkis: Buffer[]): Promise<Rate> {
  const principal = principalFromClaims(
    devClaims('https://issuer.example', 'sigstore'),
    issuerFrom({ issuerUrl: 'https://issuer.example', type: 'github-workflow' }),
  );
  let measuring = false;
  let stop = false;
  let n = 0;
  let k = 0;
  const latencies: number[] = [];
  const workers = Array.from({ length: CONCURRENCY }, async () => {
    while (!stop) {
      const t = performance.now();
      const counted = measuring;
      await issuer.issue(principal, spkis[k++ % spkis.length]!);
      if (counted && measuring) {
        n++;
        latencies.push(performance.now() - t);
      }
    }
  });
  await new Promise((r) => setTimeout(r, WARMUP * 1000));
  const cpu0 = cpuMicros();
  const t0 = performance.now();
  measuring = true;
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  measuring = false;
  const elapsed = performance.now() - t0;
  const cpu = cpuMicros() - cpu0;
  stop = true;
  await Promise.all(workers);
  latencies.sort((a, b) => a - b);
  return {
    perSecond: Math.round((n / elapsed) * 1000),
    cpuMicrosPerCertificate: Math.round(cpu / n),
    latencyMs: { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)) },
  };
}

async function startCa(dataDir: string, issuersFile: string): Promise<{ proc: ChildProcess; port: number }> {
  const extra = process.env.BENCH_CA_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const args = [...extra, '--import', 'tsx', 'src/cli/main.ts', 'ca', 'serve', '--port', '0'];
  args.push('--data-dir', dataDir, '--oidc-issuers', issuersFile);
  const proc = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.once('exit', (code) => reject(new Error(`CA exited (${code}): ${err}`)));
  });
  return { proc, port: Number(new URL(url).port) };
}

/** utime + stime of a process in microseconds (Linux /proc). */
function processCpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / 100) * 1e6;
}

async function prepareRequests(
  port: number,
  mint: (o: Record<string, unknown>) => Promise<string>,
): Promise<Buffer[]> {
  const tokens = await Promise.all(
    Array.from({ length: TOKENS }, (_, i) => mint({ run_id: String(1000 + i) })),
  );
  const out: Buffer[] = [];
  for (let i = 0; i < KEYS; i++) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const body = JSON.stringify({
      credentials: { oidcIdentityToken: tokens[i % tokens.length] },
      publicKeyRequest: {
        publicKey: { algorithm: 'ECDSA', content: publicKey.export({ type: 'spki', format: 'pem' }) },
        proofOfPossession: sign('sha256', Buffer.from(SUBJECT), privateKey).toString('base64'),
      },
    });
    out.push(
      Buffer.from(
        `POST /api/v2/signingCert HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      ),
    );
  }
  return out;
}

/** One keep-alive connection sending requests back to back. */
function client(
  port: number,
  next: () => Buffer,
  onResponse: (status: number, ms: number) => void,
  stop: () => boolean,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', noDelay: true });
    let buf: Buffer = Buffer.alloc(0);
    let sentAt = 0;
    const send = (): void => {
      if (stop()) {
        socket.end();
        return;
      }
      sentAt = performance.now();
      socket.write(next());
    };
    socket.on('connect', send);
    socket.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      for (;;) {
        const headEnd = buf.indexOf('\r\n\r\n');
        if (headEnd < 0) return;
        const head = buf.subarray(0, headEnd).toString('latin1');
        const len = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < headEnd + 4 + len) return;
        buf = buf.subarray(headEnd + 4 + len);
        onResponse(Number(head.slice(9, 12)), performance.now() - sentAt);
        send();
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolve());
  });
}

async function httpRate(
  dir: string,
): Promise<Rate & { clients: number; otherStatuses: Record<number, number> }> {
  const oidc = await createOidcServer({ dataDir: join(dir, 'oidc'), port: 0, logLevel: 'silent' });
  const issuersFile = join(dir, 'issuers.yaml');
  writeFileSync(issuersFile, `issuers:\n  - issuerUrl: ${oidc.issuer}\n    type: github-workflow\n`);
  const { proc, port } = await startCa(join(dir, 'ca-http'), issuersFile);
  try {
    const requests = await prepareRequests(port, oidc.mint);
    let cursor = 0;
    let measuring = false;
    let stop = false;
    let ok = 0;
    const other: Record<number, number> = {};
    const latencies: number[] = [];
    const clients = Array.from({ length: HTTP_CLIENTS }, () =>
      client(
        port,
        () => requests[cursor++ % requests.length]!,
        (status, ms) => {
          if (!measuring) return;
          if (status === 200) {
            ok++;
            latencies.push(ms);
          } else other[status] = (other[status] ?? 0) + 1;
        },
        () => stop,
      ),
    );
    await new Promise((r) => setTimeout(r, WARMUP * 1000));
    const cpu0 = processCpuMicros(proc.pid!);
    const t0 = performance.now();
    measuring = true;
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    measuring = false;
    const elapsed = performance.now() - t0;
    const cpu = processCpuMicros(proc.pid!) - cpu0;
    stop = true;
    await Promise.all(clients);
    latencies.sort((a, b) => a - b);
    return {
      perSecond: Math.round((ok / elapsed) * 1000),
      cpuMicrosPerCertificate: Math.round(cpu / ok),
      latencyMs: { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)) },
      clients: HTTP_CLIENTS,
      otherStatuses: other,
    };
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
    await oidc.close();
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-bench-ca-'));
  try {
    const ca = await loadOrCreateCa(dir, 'P-256');
    const spkis = Array.from({ length: 64 }, () =>
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }),
    );
    const signBefore = rawSignRate(ca.intermediateKey);
    if (process.env.BENCH_ONLY === 'http') {
      process.stdout.write(`${JSON.stringify({ httpWithCt: await httpRate(dir) }, null, 2)}\n`);
      return;
    }
    const withoutCt = await issueRate(createCertificateIssuer(ca), spkis);
    const ct = await createCtLog({
      dataDir: dir,
      key: loadOrCreateKey(join(dir, CA_FILES.ctKey)),
      acceptedRoots: [ca.rootDer],
    });
    const withCt = await issueRate(createCertificateIssuer(ca, ct), spkis);
    const ctStats = ct.log.stats();
    await ct.close();
    const http = await httpRate(dir);
    const signAfter = rawSignRate(ca.intermediateKey);
    const rawSign = (signBefore + signAfter) / 2;
    const result = {
      benchmark: 'ca',
      seconds: SECONDS,
      rawP256SignPerSecOneCore: Math.round(rawSign),
      rawSignBeforeAfter: [Math.round(signBefore), Math.round(signAfter)],
      withoutCt: { ...withoutCt, concurrency: CONCURRENCY },
      withCt: {
        ...withCt,
        concurrency: CONCURRENCY,
        ctCommits: ctStats.commits,
        ctLargestBatch: ctStats.largestBatch,
      },
      httpWithCt: { ...http, distinctKeys: KEYS, distinctTokens: TOKENS },
      ratios: {
        withoutCtToRawSign: round(withoutCt.perSecond / rawSign, 3),
        withCtToRawSign: round(withCt.perSecond / rawSign, 3),
        httpWithCtToRawSign: round(http.perSecond / rawSign, 3),
        withCtToWithoutCt: round(withCt.perSecond / withoutCt.perSecond, 3),
      },
      signaturesPerCertificateWithCt: 3,
      durability:
        'with CT: the precertificate chain is journaled and the leaf appended, each durably committed (SQLite WAL, synchronous=FULL), before the SCT is signed',
      machine: { cpus: availableParallelism(), model: cpus()[0]?.model ?? 'unknown', node: process.version },
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
