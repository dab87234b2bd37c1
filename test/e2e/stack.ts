import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OidcServer } from '../../src/oidc/dev-issuer.js';
import type { CaServer } from '../../src/ca/server.js';
import type { LogServer } from '../../src/rekor/server.js';
import { startStack as startDevStack } from '../../src/demo/stack.js';

export const ROOT = new URL('../../', import.meta.url).pathname;
const ACTIONS_REQUEST_TOKEN = 'actions-request-secret';

/** The dev stack of the seed's flow on loopback: dev issuer, CA (with CT) trusting it, log. */
export interface Stack {
  dir: string;
  oidc: OidcServer;
  ca: CaServer;
  log: LogServer;
  trustedRootPath: string;
  trustedRootJson: Record<string, unknown>;
  close(): Promise<void>;
}

/** The one dev stack (src/demo/stack.ts) in a temporary directory, without a registry. */
export async function startStack(): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-e2e-'));
  const stack = await startDevStack({
    dataDir: dir,
    registry: 'none',
    actionsRequestToken: ACTIONS_REQUEST_TOKEN,
  }).catch((e: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  });
  return {
    dir,
    oidc: stack.oidc,
    ca: stack.ca,
    log: stack.log,
    trustedRootPath: stack.trustedRootPath,
    trustedRootJson: stack.trustedRoot,
    async close() {
      await stack.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the sigil CLI in a child process (stdin not a terminal), with `env` on top of a clean
 * environment (no SIGSTORE_ID_TOKEN / ACTIONS_* / SIGIL_* leaking in from the test runner).
 */
export async function runSigil(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<CliResult> {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(SIGSTORE_|ACTIONS_|SIGIL_|DOCKER_CONFIG)/.test(k)) base[k] = v;
  }
  // src/cli/main.ts directly: bin/sigil.js currently runs main() twice (see the sign report).
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: ROOT,
    env: { ...base, SIGIL_DATA_DIR: join(tmpdir(), 'sigil-e2e-no-stack'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** Environment of a GitHub Actions job with `permissions: id-token: write`, served by the dev issuer. */
export function actionsEnv(oidc: OidcServer): Record<string, string> {
  return {
    ACTIONS_ID_TOKEN_REQUEST_URL: `${oidc.url}/actions/token?api-version=2.0`,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: ACTIONS_REQUEST_TOKEN,
  };
}

/**
 * Runs the CLI's main() in this process, handing it streams that capture what it writes (many
 * runs cost seconds less than child processes on a loaded machine). Not for commands reading a terminal.
 */
export async function runSigilInProcess(args: string[]): Promise<CliResult> {
  const { main } = await import('../../src/cli/main.js');
  let stdout = '';
  let stderr = '';
  const savedExit = process.exitCode;
  let code: number;
  try {
    code = await main(args, {
      stdout: { write: (s: string) => ((stdout += s), true) },
      stderr: { write: (s: string) => ((stderr += s), true) },
    });
  } finally {
    process.exitCode = savedExit;
  }
  return { code, stdout, stderr };
}
