import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createRegistryServer } from './server.js';
import { DOCKER_REGISTRY_BIN as DEBIAN_REGISTRY_BIN, startDockerRegistryProcess } from './docker-registry.js';

export { DEBIAN_REGISTRY_BIN };

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
    const server = await createRegistryServer({
      port: 0,
      dataDir: join(dataDir, 'registry'),
      logLevel: 'warn',
    });
    return { kind: 'embedded', host: server.host, url: server.url, close: () => server.close() };
  }
  if (!existsSync(DEBIAN_REGISTRY_BIN)) throw new Error(`${DEBIAN_REGISTRY_BIN} is not installed`);
  return startDockerRegistry(dataDir);
}

/** Debian's docker-registry on a free loopback port, storage under `dataDir/registry`. */
async function startDockerRegistry(dataDir: string): Promise<DemoRegistry> {
  const reg = await startDockerRegistryProcess({ root: join(dataDir, 'registry') });
  return { kind: 'docker-registry', host: reg.host, url: reg.url, close: () => reg.close() };
}
