import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import {
  DOCKER_REGISTRY_BIN,
  freePort,
  startDockerRegistryProcess,
  type DockerRegistryOptions,
} from '../../src/demo/registry/index.js';
import { requireBinary } from './env.js';

export { DOCKER_REGISTRY_BIN, freePort };

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

export type RegistryHelperOptions = Pick<DockerRegistryOptions, 'tokenAuth' | 'htpasswd'>;

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
  try {
    const reg = await startDockerRegistryProcess({ root, ...opts });
    const stop = async (): Promise<void> => {
      await reg.close();
      rmSync(root, { recursive: true, force: true });
    };
    return { host: reg.host, url: reg.url, port: reg.port, dataDir: reg.dataDir, stop };
  } catch (e) {
    rmSync(root, { recursive: true, force: true });
    throw e;
  }
}
