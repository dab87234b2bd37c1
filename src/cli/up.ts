import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { createOidcServer } from '../oidc/dev-issuer.js';
import { issuerFrom, parseOidcConfig, type IssuerConfig } from '../oidc/config.js';
import { createCaServer } from '../ca/server.js';
import { buildTrustedRoot } from '../ca/trusted-root.js';
import { createLogServer } from '../rekor/server.js';
import { createRekorV2Server } from '../rekor-v2/server.js';
import { pemBlocks } from '../crypto/index.js';
import { closeOnSignals } from '../server/index.js';
import { createTsaServer } from '../tsa/server.js';
import { buildSigningConfig, signingConfigToJson } from '../signing-config/config.js';
import { createTrustFilesServer } from '../signing-config/server.js';
import { SIGNING_CONFIG_FILE } from '../sign/stack.js';
import { CliError } from './output.js';
import { parsePort } from './oidc.js';

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
}

export interface DevStack {
  oidcUrl: string;
  caUrl: string;
  logUrl: string;
  /** The Rekor v2 log (its own tree and key), listed with majorApiVersion 2. */
  logV2Url: string;
  /** Full timestamp URL of the TSA. */
  tsaUrl: string;
  /** Serves /trusted_root.json and /signing_config.json. */
  trustFilesUrl: string;
  trustedRootPath: string;
  signingConfigPath: string;
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
    const logV2 = await createRekorV2Server({
      dataDir: join(dir, 'log-v2'),
      host,
      port: port('logV2', 5),
      ...(opts.logLevel ? { logLevel: opts.logLevel } : {}),
    });
    closers.push(() => logV2.close());
    const tsa = await createTsaServer({
      dataDir: join(dir, 'tsa'),
      host,
      port: port('tsa', 3),
      ...(opts.logLevel ? { logLevel: opts.logLevel } : {}),
    });
    closers.push(() => tsa.close());
    const logKey = pemBlocks(log.publicKeyPem).find((b) => b.type === 'PUBLIC KEY');
    if (!logKey || !ca.ct) throw new Error('log or CT key missing');
    const start = validFrom(ca.ca.rootDer);
    const root = buildTrustedRoot({
      ca: { uri: ca.url, chainDer: [ca.ca.intermediateDer, ca.ca.rootDer] },
      tsas: [{ uri: tsa.timestampUrl, chainDer: tsa.material.chainDer }],
      tlogs: [
        { baseUrl: log.publicUrl, publicKeyDer: logKey.der, validFrom: start },
        { baseUrl: logV2.publicUrl, publicKeyDer: logV2.publicKeyDer, validFrom: start },
      ],
      ctlogs: [{ baseUrl: `${ca.url}/ct`, publicKeyDer: ca.ct.publicKeyDer, validFrom: start }],
    });
    const trustedRootPath = join(dir, 'trusted_root.json');
    const rootText = `${JSON.stringify(root, null, 2)}\n`;
    writeFileSync(trustedRootPath, rootText);
    const signingConfigPath = join(dir, SIGNING_CONFIG_FILE);
    const signingText = `${JSON.stringify(
      signingConfigToJson(
        buildSigningConfig({
          caUrl: ca.url,
          oidcUrl: oidc.url,
          rekorUrls: [log.publicUrl],
          rekorV2Urls: [logV2.publicUrl],
          tsaUrls: [tsa.timestampUrl],
          validFrom: start,
        }),
      ),
      null,
      2,
    )}\n`;
    writeFileSync(signingConfigPath, signingText);
    const files = await createTrustFilesServer({
      files: { 'trusted_root.json': rootText, 'signing_config.json': signingText },
      host,
      port: port('trust', 4),
      ...(opts.logLevel ? { logLevel: opts.logLevel } : {}),
    });
    closers.push(() => files.close());
    const envPath = join(dir, 'stack.env');
    writeFileSync(
      envPath,
      [
        `SIGIL_OIDC_URL=${oidc.url}`,
        `SIGIL_CA_URL=${ca.url}`,
        `SIGIL_LOG_URL=${log.publicUrl}`,
        `SIGIL_LOG_V2_URL=${logV2.publicUrl}`,
        `SIGIL_TSA_URL=${tsa.timestampUrl}`,
        `SIGIL_TRUSTED_ROOT=${trustedRootPath}`,
        `SIGIL_SIGNING_CONFIG=${signingConfigPath}`,
        '',
      ].join('\n'),
    );
    return {
      oidcUrl: oidc.url,
      caUrl: ca.url,
      logUrl: log.publicUrl,
      logV2Url: logV2.publicUrl,
      tsaUrl: tsa.timestampUrl,
      trustFilesUrl: files.url,
      trustedRootPath,
      signingConfigPath,
      envPath,
      close,
    };
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
      'run the dev stack: OIDC issuer, CA with CT log, transparency logs (Rekor v1 and v2), TSA; writes trusted_root.json, signing_config.json and stack.env',
    )
    .option('--data-dir <dir>', 'state directory', '.sigil')
    .option('--host <host>', 'listen address', '127.0.0.1')
    .option(
      '--port-base <n>',
      'issuer on N, CA on N+1, log on N+2, TSA on N+3, trust files on N+4, Rekor v2 log on N+5 (default 8080 / 5555 / 3000 / 5580 / 5581 / 3003)',
    )
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
          `sigil up: log (v2)     ${stack.logV2Url} (Rekor v2, tlog-tiles at ${stack.logV2Url}/checkpoint)`,
          `sigil up: TSA          ${stack.tsaUrl} (chain at ${stack.tsaUrl}/certchain)`,
          `sigil up: trusted root ${stack.trustedRootPath} (${stack.trustFilesUrl}/trusted_root.json)`,
          `sigil up: signing cfg  ${stack.signingConfigPath} (${stack.trustFilesUrl}/signing_config.json)`,
          `sigil up: environment  ${stack.envPath} (source it: set -a; . ${stack.envPath}; set +a)`,
          '',
        ].join('\n'),
      );
      closeOnSignals(() => stack.close());
    });
}
