import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOidcServer, type OidcServer } from '../../src/oidc/dev-issuer.js';
import { issuerFrom } from '../../src/oidc/config.js';
import { createCaServer, type CaServer } from '../../src/ca/server.js';
import { createLogServer, type LogServer } from '../../src/rekor/server.js';
import { pemBlocks, sha256 } from '../../src/crypto/index.js';
import { TRUSTED_ROOT_MEDIA_TYPE, trustedRootToJson, type TrustedRoot } from '../../src/bundle/index.js';

export const ROOT = new URL('../../', import.meta.url).pathname;

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

/** A trusted_root.json for a running CA (chain + CT key) and log, valid from an hour ago. */
export function trustedRootFor(ca: CaServer, log: LogServer): TrustedRoot {
  const start = new Date(Date.now() - 3600_000);
  const logKey = pemBlocks(log.publicKeyPem)[0]!.der;
  const ct = ca.ct!;
  return {
    mediaType: TRUSTED_ROOT_MEDIA_TYPE,
    tlogs: [
      {
        baseUrl: log.url,
        hashAlgorithm: 'SHA2_256',
        publicKey: { rawBytes: logKey, keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
        logId: Buffer.from(log.logId, 'hex'),
      },
    ],
    certificateAuthorities: [
      {
        subject: { organization: 'sigil', commonName: 'sigil' },
        uri: ca.url,
        certChain: [ca.ca.intermediateDer, ca.ca.rootDer],
        validFor: { start },
      },
    ],
    ctlogs: [
      {
        baseUrl: `${ca.url}/ct`,
        hashAlgorithm: 'SHA2_256',
        publicKey: { rawBytes: ct.publicKeyDer, keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
        logId: sha256(ct.publicKeyDer),
      },
    ],
    timestampAuthorities: [],
  };
}

export async function startStack(): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-e2e-'));
  const oidc = await createOidcServer({
    dataDir: join(dir, 'oidc'),
    port: 0,
    logLevel: 'silent',
    actionsRequestToken: 'actions-request-secret',
  });
  const ca = await createCaServer({
    dataDir: join(dir, 'ca'),
    port: 0,
    logLevel: 'silent',
    oidc: { issuers: [issuerFrom({ issuerUrl: oidc.issuer, type: 'github-workflow' })] },
  });
  const log = await createLogServer({ dataDir: join(dir, 'log'), port: 0, logLevel: 'silent', workers: 0 });
  const trustedRootJson = trustedRootToJson(trustedRootFor(ca, log)) as Record<string, unknown>;
  const trustedRootPath = join(dir, 'trusted_root.json');
  writeFileSync(trustedRootPath, JSON.stringify(trustedRootJson, null, 2));
  writeFileSync(
    join(dir, 'stack.env'),
    `SIGIL_OIDC_URL=${oidc.url}\nSIGIL_CA_URL=${ca.url}\nSIGIL_LOG_URL=${log.url}\nSIGIL_TRUSTED_ROOT=${trustedRootPath}\n`,
  );
  return {
    dir,
    oidc,
    ca,
    log,
    trustedRootPath,
    trustedRootJson,
    async close() {
      await log.close();
      await ca.close();
      await oidc.close();
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
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'actions-request-secret',
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
