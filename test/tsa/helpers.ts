import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTsaServer, type TsaServer, type TsaServerConfig } from '../../src/tsa/server.js';

export async function withTsa(
  fn: (tsa: TsaServer, dir: string, restart: () => Promise<TsaServer>) => Promise<void>,
  config: Partial<TsaServerConfig> = {},
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-tsa-'));
  let tsa = await createTsaServer({ dataDir: dir, port: 0, logLevel: 'silent', ...config });
  const restart = async (): Promise<TsaServer> => {
    await tsa.close();
    tsa = await createTsaServer({ dataDir: dir, port: 0, logLevel: 'silent', ...config });
    return tsa;
  };
  try {
    await fn(tsa, dir, restart);
  } finally {
    await tsa.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs openssl; returns status and combined output. */
export function openssl(args: string[]): { status: number; out: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

export async function postTimestamp(
  url: string,
  body: Buffer | string,
  type = 'application/timestamp-query',
): Promise<{ status: number; type: string; body: Buffer }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': type }, body });
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    body: Buffer.from(await res.arrayBuffer()),
  };
}

export const SAN = 'https://github.com/org/repo/.github/workflows/CI-CD.yml@refs/heads/main';

/** A token from the dev issuer of `sigil up` (its `POST /token`). */
export async function devToken(oidcUrl: string): Promise<string> {
  const res = await fetch(`${oidcUrl}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  return ((await res.json()) as { token: string }).token;
}
