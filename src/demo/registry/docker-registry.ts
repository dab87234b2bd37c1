import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

/**
 * Debian's `docker-registry` (distribution) as a child process on a free loopback port: used by
 * the demo and by the tests, which need a real registry that is not sigil's own.
 */
export const DOCKER_REGISTRY_BIN = '/usr/bin/docker-registry';
const DEFAULT_START_TIMEOUT_MS = 15_000;

export interface DockerRegistryOptions {
  /** Directory for the generated config and the storage (`<root>/data`); created if absent. */
  root: string;
  /**
   * Token auth: the registry answers 401 with a Bearer challenge naming `realm`/`service`
   * and accepts JWTs signed by the key of `rootCertPem` whose `iss` is `issuer`.
   */
  tokenAuth?: { realm: string; service: string; issuer: string; rootCertPem: string };
  /** Basic auth: the path of an htpasswd file (bcrypt entries, `htpasswd -Bbn user pass`). */
  htpasswd?: string;
  startTimeoutMs?: number;
}

export interface DockerRegistryProcess {
  /** `127.0.0.1:PORT`: the registry part of image references. */
  host: string;
  /** `http://127.0.0.1:PORT`. */
  url: string;
  port: number;
  /** Storage directory. */
  dataDir: string;
  /** The registry process's id (benchmarks read its CPU time from /proc). */
  pid: number;
  /** SIGTERM, then SIGKILL after 3 s; leaves the files in place. */
  close(): Promise<void>;
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

function configYaml(port: number, root: string, opts: DockerRegistryOptions): string {
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    // Blob descriptors answered from memory, as production registries configure (redis or inmemory).
    '  cache:',
    '    blobdescriptor: inmemory',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(join(root, 'data'))}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  headers:',
    '    X-Content-Type-Options: [nosniff]',
  ];
  if (opts.tokenAuth) {
    const bundle = join(root, 'token-root.pem');
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
  if (opts.htpasswd) {
    lines.push('auth:', '  htpasswd:', '    realm: sigil-test', `    path: ${JSON.stringify(opts.htpasswd)}`);
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

/** Starts the registry; retries on a port taken between choosing and binding it. */
export async function startDockerRegistryProcess(
  opts: DockerRegistryOptions,
): Promise<DockerRegistryProcess> {
  mkdirSync(opts.root, { recursive: true });
  const configPath = join(opts.root, 'config.yml');
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    writeFileSync(configPath, configYaml(port, opts.root, opts));
    const child = spawn(DOCKER_REGISTRY_BIN, ['serve', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr?.on('data', (d: Buffer) => {
      if (err.length < 8192) err += d.toString('utf8');
    });
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitUntilUp(url, child, () => err, opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
    } catch (e) {
      child.kill('SIGKILL');
      if (attempt < 2 && /address already in use/.test(err)) continue;
      throw e;
    }
    const close = async (): Promise<void> => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    };
    return { host: `127.0.0.1:${port}`, url, port, dataDir: join(opts.root, 'data'), pid: child.pid!, close };
  }
}
