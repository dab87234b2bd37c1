import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { parseOidcConfig, type IssuerConfig } from '../oidc/config.js';
import { closeOnSignals } from '../server/index.js';
import { startStack } from '../demo/stack.js';
import { parsePort } from './flags.js';
import { CliError } from './output.js';
import { cliIo } from './io.js';

export const DEFAULT_UP_PORTS = {
  oidc: 8080,
  ca: 5555,
  log: 3000,
  tsa: 5580,
  trust: 5581,
  logV2: 3003,
} as const;

export interface DevStackOptions {
  dataDir: string;
  host?: string;
  /**
   * N → issuer N, CA N+1, log N+2, TSA N+3, trust files N+4, Rekor v2 log N+5; 0 → random free
   * ports; absent → 8080 / 5555 / 3000 / 5580 / 5581 / 3003.
   */
  portBase?: number;
  /** Extra trusted issuers for the CA beside the dev issuer. */
  extraIssuers?: IssuerConfig[];
  logLevel?: string;
  /** Worker threads of the log (default: its own default). */
  logWorkers?: number;
  /** The log's signing key (PKCS#8 PEM), shared with other replicas; default: created in DIR/log. */
  logKeyFile?: string;
}

export interface DevStack {
  oidcUrl: string;
  caUrl: string;
  logUrl: string;
  /** The Rekor v2 log (its own tree and key), listed with majorApiVersion 2. */
  logV2Url: string;
  /** Full timestamp URL of the TSA. */
  tsaUrl: string;
  /** Serves /trusted_root.json and /signing_config.json, and both as a TUF repository at /tuf. */
  trustFilesUrl: string;
  /** The root of that TUF repository (an ImageValidatingPolicy's `tuf.root.path`). */
  tufRootPath: string;
  trustedRootPath: string;
  signingConfigPath: string;
  envPath: string;
  close(): Promise<void>;
}

/**
 * The whole dev stack in one process (demo/stack.ts startStack on `sigil up`'s ports, with the
 * trust files server and no registry). Writes DIR/trusted_root.json and DIR/stack.env.
 */
export async function startDevStack(opts: DevStackOptions): Promise<DevStack> {
  const dir = resolve(opts.dataDir);
  const base = opts.portBase;
  const ports = Object.fromEntries(
    (Object.keys(DEFAULT_UP_PORTS) as (keyof typeof DEFAULT_UP_PORTS)[]).map((name, offset) => [
      name,
      base === undefined ? DEFAULT_UP_PORTS[name] : base === 0 ? 0 : base + offset,
    ]),
  );
  const stack = await startStack({
    dataDir: dir,
    registry: 'none',
    host: opts.host ?? '127.0.0.1',
    ports,
    trustFiles: true,
    dataDirInEnv: false,
    logWorkers: opts.logWorkers ?? availableParallelism(),
    logLevel: opts.logLevel,
    ...(opts.extraIssuers ? { extraIssuers: opts.extraIssuers } : {}),
    ...(opts.logKeyFile ? { logKeyFile: opts.logKeyFile } : {}),
  });
  return {
    oidcUrl: stack.oidc.url,
    caUrl: stack.ca.url,
    logUrl: stack.log.publicUrl,
    logV2Url: stack.logV2.publicUrl,
    tsaUrl: stack.tsa.timestampUrl,
    trustFilesUrl: stack.trustFilesUrl!,
    tufRootPath: stack.tufRootPath!,
    trustedRootPath: stack.trustedRootPath,
    signingConfigPath: stack.signingConfigPath,
    envPath: stack.envPath,
    close: stack.close,
  };
}

interface UpFlags {
  dataDir: string;
  host: string;
  portBase?: string;
  oidcIssuers?: string;
  logKey?: string;
}

export function register(program: Command): void {
  program
    .command('up')
    .description(
      'run the dev stack: OIDC issuer, CA with CT log, transparency logs (Rekor v1 and v2), TSA; writes trusted_root.json, signing_config.json and stack.env',
    )
    .option('--data-dir <dir>', 'state directory', '.sigil')
    .option('--host <host>', 'listen address', '127.0.0.1')
    .option(
      '--port-base <n>',
      'issuer on N, CA on N+1, log on N+2, TSA on N+3, trust files on N+4, Rekor v2 log on N+5 (default 8080 / 5555 / 3000 / 5580 / 5581 / 3003)',
    )
    .option('--oidc-issuers <file>', 'more issuers for the CA to trust (YAML)')
    .option(
      '--log-key <file>',
      'log signing key (PKCS#8 PEM), to share with `sigil log serve` replicas (env SIGIL_LOG_KEY_FILE; default: created in DIR/log)',
      cliIo().env.SIGIL_LOG_KEY_FILE,
    )
    .action(async (o: UpFlags) => {
      let extra: IssuerConfig[] = [];
      if (o.oidcIssuers) {
        try {
          extra = parseOidcConfig(readFileSync(o.oidcIssuers, 'utf8')).issuers;
        } catch (e) {
          throw new CliError(`cannot use ${o.oidcIssuers}: ${(e as Error).message}`);
        }
      }
      const stack = await startDevStack({
        dataDir: o.dataDir,
        host: o.host,
        ...(o.portBase !== undefined ? { portBase: parsePort(o.portBase) } : {}),
        extraIssuers: extra,
        ...(o.logKey ? { logKeyFile: o.logKey } : {}),
      });
      cliIo().stdout.write(
        [
          `sigil up: OIDC issuer  ${stack.oidcUrl}`,
          `sigil up: CA           ${stack.caUrl} (CT log at ${stack.caUrl}/ct/v1/)`,
          `sigil up: log          ${stack.logUrl}`,
          `sigil up: log (v2)     ${stack.logV2Url} (Rekor v2, tlog-tiles at ${stack.logV2Url}/checkpoint)`,
          `sigil up: TSA          ${stack.tsaUrl} (chain at ${stack.tsaUrl}/certchain)`,
          `sigil up: trusted root ${stack.trustedRootPath} (${stack.trustFilesUrl}/trusted_root.json)`,
          `sigil up: signing cfg  ${stack.signingConfigPath} (${stack.trustFilesUrl}/signing_config.json)`,
          `sigil up: TUF mirror   ${stack.trustFilesUrl}/tuf (root ${stack.tufRootPath})`,
          `sigil up: environment  ${stack.envPath} (source it: set -a; . ${stack.envPath}; set +a)`,
          '',
        ].join('\n'),
      );
      closeOnSignals(() => stack.close());
    });
}
