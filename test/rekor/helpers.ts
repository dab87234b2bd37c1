import 'reflect-metadata';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, sign, webcrypto, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { generateP256, spkiDer, toPem } from '../../src/crypto/index.js';
import { createLogServer, type LogServer, type LogServerConfig } from '../../src/rekor/server.js';
import type { IdentifiedLogEntry } from '../../src/rekor/log-entry.js';

export const ROOT = new URL('../../', import.meta.url).pathname;

type After = { after(fn: () => Promise<void> | void): void };

export function tempDir(t: { after(fn: () => void): void }, prefix = 'sigil-rekor-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A log server made by `create` in a fresh data dir on port 0, inline (no workers), closed after `t`. */
export async function startTestServer<C, S extends { close(): Promise<void> }>(
  t: After,
  create: (config: C) => Promise<S>,
  config: Partial<C>,
  prefix?: string,
): Promise<S> {
  // Hooks run in the order they were added: the close goes first, so the data dir is removed only
  // after the server (and its tile writer) stopped; the other way round failed with ENOTEMPTY.
  const started: { server?: S } = {};
  t.after(async () => {
    await started.server?.close();
  });
  const server = await create({
    dataDir: tempDir(t, prefix),
    port: 0,
    logLevel: 'silent',
    workers: 0,
    ...config,
  } as C);
  started.server = server;
  return server;
}

export const startLog = (t: After, config: Partial<LogServerConfig> = {}): Promise<LogServer> =>
  startTestServer(t, createLogServer, config);

export interface Signed {
  entry: { apiVersion: string; kind: string; spec: unknown };
  data: Buffer;
  digest: Buffer;
  signature: Buffer;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');

/** A hashedrekord proposed entry over `data`, signed with a fresh (or given) P-256 key. */
export function hashedRekord(
  data: Buffer = Buffer.from(`artifact ${Math.random()}`),
  keys: { privateKey: KeyObject; publicKey: KeyObject } = generateP256(),
  publicKeyPem?: string,
): Signed {
  const digest = createHash('sha256').update(data).digest();
  const signature = sign('sha256', data, keys.privateKey);
  const pem = publicKeyPem ?? toPem('PUBLIC KEY', spkiDer(keys.publicKey));
  return {
    entry: {
      apiVersion: '0.0.1',
      kind: 'hashedrekord',
      spec: {
        signature: { content: b64(signature), publicKey: { content: b64(pem) } },
        data: { hash: { algorithm: 'sha256', value: digest.toString('hex') } },
      },
    },
    data,
    digest,
    signature,
    ...keys,
  };
}

export async function post(
  url: string,
  path: string,
  body: unknown,
  contentType = 'application/json',
): Promise<Response> {
  return fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
  });
}

export async function createEntry(url: string, entry: unknown): Promise<IdentifiedLogEntry> {
  const res = await post(url, '/api/v1/log/entries', entry);
  if (res.status !== 201) throw new Error(`create answered ${res.status}: ${await res.text()}`);
  const map = (await res.json()) as Record<string, Omit<IdentifiedLogEntry, 'uuid'>>;
  const [uuid, e] = Object.entries(map)[0]!;
  return { uuid, ...e };
}

/** A self-signed certificate for `publicKey`'s pair with the given SANs (e.g. a test CA-less leaf). */
export async function selfSignedCert(sans: { type: 'email' | 'url' | 'dns'; value: string }[]): Promise<{
  pem: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: '01',
      name: 'CN=sigil test',
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 3_600_000),
      keys,
      signingAlgorithm: alg,
      extensions: [new x509.SubjectAlternativeNameExtension(sans)],
    },
    webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[1],
  );
  const { KeyObject: KO } = await import('node:crypto');
  return {
    pem: cert.toString('pem'),
    privateKey: KO.from(keys.privateKey as unknown as webcrypto.CryptoKey),
    publicKey: KO.from(keys.publicKey as unknown as webcrypto.CryptoKey),
  };
}

/** Spawns `sigil log serve` as its own process and waits for its one line. */
export async function spawnLog(
  dataDir: string,
  extra: string[] = [],
): Promise<{ proc: ChildProcess; url: string; stderr: () => string }> {
  const proc = spawn(
    process.execPath,
    ['bin/sigil.js', 'log', 'serve', '--port', '0', '--data-dir', dataDir, ...extra],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SIGIL_LOG_LEVEL: 'silent' } },
  );
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`log did not start within 90 s: ${err}`)), 90_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^sigil log listening on (http:\/\/\S+)\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`log exited with ${code}: ${err}`));
    });
  });
  return { proc, url, stderr: () => err };
}

export function exited(proc: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (proc.exitCode !== null || proc.signalCode !== null)
    return Promise.resolve({ code: proc.exitCode, signal: proc.signalCode });
  return new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
}
