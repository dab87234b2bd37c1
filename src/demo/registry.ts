import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createRegistryServer } from '../oci/registry-server.js';

export const DEBIAN_REGISTRY_BIN = '/usr/bin/docker-registry';
const START_TIMEOUT_MS = 15_000;

/** An OCI registry the demo pushes to: Debian's docker-registry or sigil's embedded one. */
export interface DemoRegistry {
  kind: 'docker-registry' | 'embedded';
  /** `127.0.0.1:PORT`: the registry part of image references. */
  host: string;
  url: string;
  close(): Promise<void>;
}

export type RegistryChoice = 'auto' | 'docker-registry' | 'embedded';

/** `auto`: Debian's docker-registry when installed, else the embedded registry. */
export async function startRegistry(choice: RegistryChoice, dataDir: string): Promise<DemoRegistry> {
  const useDebian = choice === 'docker-registry' || (choice === 'auto' && existsSync(DEBIAN_REGISTRY_BIN));
  if (!useDebian) {
    const server = await createRegistryServer({ port: 0, dataDir: join(dataDir, 'registry'), logLevel: 'warn' });
    return { kind: 'embedded', host: server.host, url: server.url, close: () => server.close() };
  }
  if (!existsSync(DEBIAN_REGISTRY_BIN)) throw new Error(`${DEBIAN_REGISTRY_BIN} is not installed`);
  return startDockerRegistry(dataDir);
}

async function freePort(): Promise<number> {
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

function configYaml(port: number, storage: string): string {
  return [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(storage)}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '',
  ].join('\n');
}

async function waitUntilUp(url: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}: ${stderr()}`);
    try {
      const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`docker-registry did not come up within ${START_TIMEOUT_MS} ms: ${stderr()}`);
}

/** Debian's docker-registry on a free loopback port, storage under `dataDir/registry`. */
async function startDockerRegistry(dataDir: string): Promise<DemoRegistry> {
  const root = join(dataDir, 'registry');
  mkdirSync(root, { recursive: true });
  const configPath = join(root, 'config.yml');
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    writeFileSync(configPath, configYaml(port, join(root, 'data')));
    const child = spawn(DEBIAN_REGISTRY_BIN, ['serve', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr?.on('data', (d: Buffer) => {
      if (err.length < 8192) err += d.toString('utf8');
    });
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitUntilUp(url, child, () => err);
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
    return { kind: 'docker-registry', host: `127.0.0.1:${port}`, url, close };
  }
}
