import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { requireBinary } from './env.js';

export const DOCKER_REGISTRY_BIN = '/usr/bin/docker-registry';

export interface RunningRegistry {
  /** `127.0.0.1:PORT`: use it as the registry part of image references. */
  host: string;
  /** `http://127.0.0.1:PORT`. */
  url: string;
  port: number;
  /** Storage directory (removed by stop()). */
  dataDir: string;
  stop(): Promise<void>;
}

export interface RegistryHelperOptions {
  /**
   * Token auth: the registry answers 401 with a Bearer challenge naming `realm`/`service`
   * and accepts JWTs signed by the key of `rootCertPem` whose `iss` is `issuer`.
   */
  tokenAuth?: { realm: string; service: string; issuer: string; rootCertPem: string };
}

/** A free loopback TCP port (closed again before it is returned). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function configYaml(port: number, dataDir: string, opts: RegistryHelperOptions): string {
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(dataDir)}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  headers:',
    '    X-Content-Type-Options: [nosniff]',
  ];
  if (opts.tokenAuth) {
    const bundle = join(dataDir, '..', 'token-root.pem');
    writeFileSync(bundle, opts.tokenAuth.rootCertPem);
    lines.push(
      'auth:',
      '  token:',
      `    realm: ${JSON.stringify(opts.tokenAuth.realm)}`,
      `    service: ${JSON.stringify(opts.tokenAuth.service)}`,
      `    issuer: ${JSON.stringify(opts.tokenAuth.issuer)}`,
      `    rootcertbundle: ${JSON.stringify(bundle)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

async function waitUntilUp(
  url: string,
  child: ChildProcess,
  stderr: () => string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`docker-registry exited with ${child.exitCode}: ${stderr()}`);
    try {
      const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.status === 200 || res.status === 401) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`docker-registry did not come up within ${timeoutMs} ms: ${stderr()}`);
}

/**
 * Starts Debian's `docker-registry` on a free loopback port with a temporary storage
 * directory and a generated config. Returns undefined (test skipped) when the binary is
 * missing locally; fails the test under CI=true.
 */
export async function startDockerRegistry(
  t: TestContext,
  opts: RegistryHelperOptions = {},
): Promise<RunningRegistry | undefined> {
  if (!requireBinary(t, DOCKER_REGISTRY_BIN)) return undefined;
  const root = mkdtempSync(join(tmpdir(), 'sigil-registry-'));
  const dataDir = join(root, 'data');
  const configPath = join(root, 'config.yml');
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    writeFileSync(configPath, configYaml(port, dataDir, opts));
    const child = spawn(DOCKER_REGISTRY_BIN, ['serve', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr?.on('data', (d: Buffer) => {
      if (err.length < 8192) err += d.toString('utf8');
    });
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitUntilUp(url, child, () => err, 15_000);
    } catch (e) {
      child.kill('SIGKILL');
      if (attempt < 2 && /address already in use/.test(err)) continue;
      rmSync(root, { recursive: true, force: true });
      throw e;
    }
    const stop = async (): Promise<void> => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(root, { recursive: true, force: true });
    };
    return { host: `127.0.0.1:${port}`, url, port, dataDir, stop };
  }
}
