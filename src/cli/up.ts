import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { createOidcServer } from '../oidc/dev-issuer.js';
import { issuerFrom, parseOidcConfig, type IssuerConfig } from '../oidc/config.js';
import { createCaServer } from '../ca/server.js';
import { buildTrustedRoot } from '../ca/trusted-root.js';
import { createLogServer } from '../rekor/server.js';
import { pemBlocks } from '../crypto/index.js';
import { closeOnSignals } from '../server/index.js';
import { CliError } from './output.js';
import { parsePort } from './oidc.js';

export const DEFAULT_UP_PORTS = { oidc: 8080, ca: 5555, log: 3000 } as const;

export interface DevStackOptions {
  dataDir: string;
  host?: string;
  /** N → issuer N, CA N+1, log N+2; 0 → random free ports; absent → 8080 / 5555 / 3000. */
  portBase?: number;
  /** Extra trusted issuers for the CA beside the dev issuer. */
  extraIssuers?: IssuerConfig[];
  logLevel?: string;
  /** Worker threads of the log (default: its own default). */
  logWorkers?: number;
}

export interface DevStack {
  oidcUrl: string;
  caUrl: string;
  logUrl: string;
  trustedRootPath: string;
  envPath: string;
  close(): Promise<void>;
}

/**
 * The whole dev stack in one process: dev OIDC issuer, CA with its CT log, transparency log.
 * Writes DIR/trusted_root.json and DIR/stack.env.
 */
export async function startDevStack(opts: DevStackOptions): Promise<DevStack> {
  const dir = resolve(opts.dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const host = opts.host ?? '127.0.0.1';
  const base = opts.portBase;
  const port = (name: keyof typeof DEFAULT_UP_PORTS, offset: number): number =>
    base === undefined ? DEFAULT_UP_PORTS[name] : base === 0 ? 0 : base + offset;
  const closers: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  try {
    const oidc = await createOidcServer({
      dataDir: join(dir, 'oidc'),
      host,
      port: port('oidc', 0),
      logLevel: opts.logLevel,
    });
    closers.push(() => oidc.close());
    const ca = await createCaServer({
      dataDir: join(dir, 'ca'),
      host,
      port: port('ca', 1),
      logLevel: opts.logLevel,
      oidc: {
        issuers: [
          issuerFrom({ issuerUrl: oidc.issuer, type: 'github-workflow' }),
          ...(opts.extraIssuers ?? []),
        ],
      },
    });
    closers.push(() => ca.close());
    const log = await createLogServer({
      dataDir: join(dir, 'log'),
      host,
      port: port('log', 2),
      ...(opts.logLevel ? { logLevel: opts.logLevel } : {}),
      ...(opts.logWorkers !== undefined ? { workers: opts.logWorkers } : {}),
    });
    closers.push(() => log.close());
    const logKey = pemBlocks(log.publicKeyPem).find((b) => b.type === 'PUBLIC KEY');
    if (!logKey || !ca.ct) throw new Error('log or CT key missing');
    const root = buildTrustedRoot({
      ca: { uri: ca.url, chainDer: [ca.ca.intermediateDer, ca.ca.rootDer] },
      tlogs: [{ baseUrl: log.publicUrl, publicKeyDer: logKey.der, validFrom: validFrom(ca.ca.rootDer) }],
      ctlogs: [
        { baseUrl: `${ca.url}/ct`, publicKeyDer: ca.ct.publicKeyDer, validFrom: validFrom(ca.ca.rootDer) },
      ],
    });
    const trustedRootPath = join(dir, 'trusted_root.json');
    writeFileSync(trustedRootPath, `${JSON.stringify(root, null, 2)}\n`);
    const envPath = join(dir, 'stack.env');
    writeFileSync(
      envPath,
      [
        `SIGIL_OIDC_URL=${oidc.url}`,
        `SIGIL_CA_URL=${ca.url}`,
        `SIGIL_LOG_URL=${log.publicUrl}`,
        `SIGIL_TRUSTED_ROOT=${trustedRootPath}`,
        '',
      ].join('\n'),
    );
    return { oidcUrl: oidc.url, caUrl: ca.url, logUrl: log.publicUrl, trustedRootPath, envPath, close };
  } catch (e) {
    await close();
    throw e;
  }
}

function validFrom(rootDer: Buffer): Date {
  const root = buildTrustedRoot({ ca: { uri: 'x', chainDer: [rootDer] }, tlogs: [], ctlogs: [] });
  return new Date((root.certificateAuthorities as { validFor: { start: string } }[])[0]!.validFor.start);
}

export function register(program: Command): void {
  program
    .command('up')
    .description(
      'run the dev stack: OIDC issuer, CA with CT log, transparency log; writes trusted_root.json and stack.env',
    )
    .option('--data-dir <dir>', 'state directory', '.sigil')
    .option('--host <host>', 'listen address', '127.0.0.1')
    .option('--port-base <n>', 'issuer on N, CA on N+1, log on N+2 (default 8080 / 5555 / 3000)')
    .option('--oidc-issuers <file>', 'more issuers for the CA to trust (YAML)')
    .action(async (o: { dataDir: string; host: string; portBase?: string; oidcIssuers?: string }) => {
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
      });
      process.stdout.write(
        [
          `sigil up: OIDC issuer  ${stack.oidcUrl}`,
          `sigil up: CA           ${stack.caUrl} (CT log at ${stack.caUrl}/ct/v1/)`,
          `sigil up: log          ${stack.logUrl}`,
          `sigil up: trusted root ${stack.trustedRootPath}`,
          `sigil up: environment  ${stack.envPath} (source it: set -a; . ${stack.envPath}; set +a)`,
          '',
        ].join('\n'),
      );
      closeOnSignals(() => stack.close());
    });
}
