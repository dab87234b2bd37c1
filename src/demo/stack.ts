import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createOidcServer, type OidcServer } from '../oidc/dev-issuer.js';
import { createCaServer, type CaServer } from '../ca/server.js';
import { fetchTrustedRoot } from '../ca/client.js';
import { createLogServer, type LogServer } from '../rekor/server.js';
import { createRekorV2Server, type RekorV2Server } from '../rekor-v2/server.js';
import { createTsaServer, type TsaServer } from '../tsa/server.js';
import { buildSigningConfig, signingConfigToJson } from '../signing-config/config.js';
import { SIGNING_CONFIG_FILE } from '../sign/stack.js';
import { parseTrustedRoot } from '../bundle/index.js';
import { parsePolicyText } from '../admission/policy/index.js';
import { createAdmissionServer, type AdmissionServer } from '../admission/server.js';
import { registryImageSource, SigstoreSignatureVerifier } from '../admission/real-verifier.js';
import { RegistryClient } from '../oci/client.js';
import { startRegistry, type DemoRegistry, type RegistryChoice } from './registry.js';

export const TRUSTED_ROOT_FILE = 'trusted_root.json';

export interface StackConfig {
  /** Every service keeps its keys and data under this directory. */
  dataDir: string;
  /** Which OCI registry to run (default auto: Debian's docker-registry when installed). */
  registry?: RegistryChoice | 'none';
  logLevel?: string;
}

/** The dev stack on loopback, every service on a free port. */
export interface Stack {
  dataDir: string;
  oidc: OidcServer;
  ca: CaServer;
  log: LogServer;
  /** The Rekor v2 log the signing config selects (majorApiVersion 2). */
  logV2: RekorV2Server;
  tsa: TsaServer;
  registry: DemoRegistry | undefined;
  /** The bearer token the dev issuer's Actions endpoint accepts (ACTIONS_ID_TOKEN_REQUEST_TOKEN). */
  actionsRequestToken: string;
  /** ACTIONS_ID_TOKEN_REQUEST_URL for a runner of this stack. */
  actionsRequestUrl: string;
  trustedRoot: Record<string, unknown>;
  trustedRootPath: string;
  /** `SIGIL_*` variables that point the CLI at this stack. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/**
 * Starts the dev OIDC issuer, the CA (with its CT log) trusting that issuer as a GitHub Actions
 * issuer, the transparency log, and an OCI registry; writes trusted_root.json and stack.env.
 */
export async function startStack(config: StackConfig): Promise<Stack> {
  const logLevel = config.logLevel ?? 'silent';
  const closers: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  try {
    const actionsRequestToken = randomBytes(24).toString('base64url');
    const oidc = await createOidcServer({
      dataDir: join(config.dataDir, 'oidc'),
      port: 0,
      actionsRequestToken,
      logLevel,
    });
    closers.push(() => oidc.close());
    const ca = await createCaServer({
      dataDir: join(config.dataDir, 'ca'),
      port: 0,
      logLevel,
      oidc: {
        issuers: [
          {
            issuerUrl: oidc.issuer,
            wildcard: false,
            audience: 'sigstore',
            type: 'github-workflow',
            skipEmailVerification: false,
          },
        ],
      },
    });
    closers.push(() => ca.close());
    const log = await createLogServer({
      dataDir: join(config.dataDir, 'log'),
      port: 0,
      logLevel,
      workers: 0,
    });
    closers.push(() => log.close());
    const logV2 = await createRekorV2Server({ dataDir: join(config.dataDir, 'log-v2'), port: 0, logLevel });
    closers.push(() => logV2.close());
    const tsa = await createTsaServer({ dataDir: join(config.dataDir, 'tsa'), port: 0, logLevel });
    closers.push(() => tsa.close());
    const registry =
      config.registry === 'none' ? undefined : await startRegistry(config.registry ?? 'auto', config.dataDir);
    if (registry) closers.push(() => registry.close());

    const trustedRoot = await fetchTrustedRoot({
      caUrl: ca.url,
      logUrl: log.url,
      tsaUrls: [tsa.timestampUrl],
      extraTlogs: [{ baseUrl: logV2.url, publicKeyDer: logV2.publicKeyDer }],
    });
    const trustedRootPath = join(config.dataDir, TRUSTED_ROOT_FILE);
    writeFileSync(trustedRootPath, `${JSON.stringify(trustedRoot, null, 2)}\n`);
    const signingConfig = buildSigningConfig({
      caUrl: ca.url,
      oidcUrl: oidc.url,
      rekorUrls: [log.url],
      rekorV2Urls: [logV2.url],
      tsaUrls: [tsa.timestampUrl],
      validFrom: new Date(Date.now() - 60_000),
    });
    writeFileSync(
      join(config.dataDir, SIGNING_CONFIG_FILE),
      `${JSON.stringify(signingConfigToJson(signingConfig), null, 2)}\n`,
    );
    const env: Record<string, string> = {
      SIGIL_DATA_DIR: config.dataDir,
      SIGIL_OIDC_URL: oidc.url,
      SIGIL_CA_URL: ca.url,
      SIGIL_LOG_URL: log.url,
      SIGIL_LOG_V2_URL: logV2.url,
      SIGIL_TSA_URL: tsa.timestampUrl,
      SIGIL_TRUSTED_ROOT: trustedRootPath,
      ...(registry ? { SIGIL_REGISTRY: registry.host } : {}),
    };
    writeFileSync(
      join(config.dataDir, 'stack.env'),
      Object.entries(env)
        .map(([k, v]) => `${k}=${v}\n`)
        .join(''),
    );
    return {
      dataDir: config.dataDir,
      oidc,
      ca,
      log,
      logV2,
      tsa,
      registry,
      actionsRequestToken,
      actionsRequestUrl: `${oidc.url}/actions/token`,
      trustedRoot,
      trustedRootPath,
      env,
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * The admission webhook (HTTPS, generated serving certificate) enforcing Kyverno policies with
 * the stack's trusted root, reading images from the registry.
 */
export async function startAdmission(
  stack: Stack,
  policyYaml: string,
  source = 'policy.yaml',
): Promise<AdmissionServer> {
  const policies = parsePolicyText(policyYaml, source, { hasTrustedRoot: true });
  const server = await createAdmissionServer({
    policies,
    source: registryImageSource(new RegistryClient({ timeoutMs: 10_000 })),
    verifier: new SigstoreSignatureVerifier(parseTrustedRoot(stack.trustedRoot)),
    port: 0,
    logLevel: 'silent',
  });
  return server;
}
