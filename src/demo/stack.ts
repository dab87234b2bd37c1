import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pemBlocks } from '../crypto/index.js';
import { createOidcServer, type OidcServer } from '../oidc/dev-issuer.js';
import { issuerFrom, type IssuerConfig } from '../oidc/config.js';
import { createCaServer, type CaServer } from '../ca/server.js';
import { buildTrustedRoot } from '../ca/trusted-root.js';
import { createLogServer, type LogServer } from '../rekor/server.js';
import { createRekorV2Server, type RekorV2Server } from '../rekor-v2/server.js';
import { createTsaServer, type TsaServer } from '../tsa/server.js';
import { buildSigningConfig, signingConfigToJson } from '../signing-config/config.js';
import { createTrustFilesServer } from '../signing-config/server.js';
import { openServedTufRepository, SIGNING_CONFIG_TUF_TARGET, TRUSTED_ROOT_TARGET } from '../tuf/index.js';
import { SIGNING_CONFIG_FILE, STACK_ENV_FILE, TRUSTED_ROOT_FILE } from '../sign/stack.js';
import { parseTrustedRoot } from '../bundle/index.js';
import { parsePolicyText } from '../admission/policy/index.js';
import { createAdmissionServer, type AdmissionServer } from '../admission/server.js';
import { registryImageSource, SigstoreSignatureVerifier } from '../admission/real-verifier.js';
import { RegistryClient } from '../oci/client.js';
import { startRegistry, type DemoRegistry, type RegistryChoice } from './registry/index.js';

/** The dev stack's services, as named in its port plan. */
export type StackService = 'oidc' | 'ca' | 'log' | 'tsa' | 'trust' | 'logV2';

export interface StackConfig {
  /** Every service keeps its keys and data under this directory. */
  dataDir: string;
  /** Which OCI registry to run (default auto: Debian's docker-registry when installed). */
  registry?: RegistryChoice | 'none';
  /** Log level of every service; absent: silent; undefined: each server's own default (`sigil up`). */
  logLevel?: string | undefined;
  /** Listen address of every service (default 127.0.0.1). */
  host?: string;
  /** Port per service (default 0: a free port each). */
  ports?: Partial<Record<StackService, number>>;
  /** Issuers the CA trusts beside the dev issuer. */
  extraIssuers?: IssuerConfig[];
  /** Worker threads of the log (default 0: inline; `sigil up` passes its own). */
  logWorkers?: number;
  /** The log's signing key (PKCS#8 PEM), shared with other replicas; default: created in DIR/log. */
  logKeyFile?: string;
  /** Serve trusted_root.json and signing_config.json over HTTP too, and both as a TUF repository at /tuf (`sigil up`). */
  trustFiles?: boolean;
  /** The dev issuer's Actions request token (default: a random one). */
  actionsRequestToken?: string;
  /** SIGIL_DATA_DIR in the env and stack.env (default true; `sigil up`'s stack.env leaves it out). */
  dataDirInEnv?: boolean;
}

/** The dev stack on loopback. */
export interface Stack {
  dataDir: string;
  oidc: OidcServer;
  ca: CaServer;
  log: LogServer;
  /** The Rekor v2 log (its own tree and key) the signing config selects (majorApiVersion 2). */
  logV2: RekorV2Server;
  tsa: TsaServer;
  registry: DemoRegistry | undefined;
  /** Base URL of the trust files server (with `trustFiles`). */
  trustFilesUrl: string | undefined;
  /** The TUF repository served at `${trustFilesUrl}/tuf` (with `trustFiles`): its root file. */
  tufRootPath: string | undefined;
  /** The bearer token the dev issuer's Actions endpoint accepts (ACTIONS_ID_TOKEN_REQUEST_TOKEN). */
  actionsRequestToken: string;
  /** ACTIONS_ID_TOKEN_REQUEST_URL for a runner of this stack. */
  actionsRequestUrl: string;
  trustedRoot: Record<string, unknown>;
  trustedRootPath: string;
  signingConfigPath: string;
  /** `SIGIL_*` variables that point the CLI at this stack (what DIR/stack.env holds). */
  env: Record<string, string>;
  envPath: string;
  close(): Promise<void>;
}

/**
 * The one dev stack (`sigil up`, `sigil demo` and the tests): the dev OIDC issuer, the CA (with
 * its CT log) trusting it as a GitHub Actions issuer, the transparency log, the TSA and, if asked,
 * an OCI registry. Writes DIR/trusted_root.json (built from the servers' keys), DIR/signing_config.json
 * and DIR/stack.env.
 */
export async function startStack(config: StackConfig): Promise<Stack> {
  const logLevel = 'logLevel' in config ? config.logLevel : 'silent';
  const host = config.host ?? '127.0.0.1';
  const port = (name: StackService): number => config.ports?.[name] ?? 0;
  const closers: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  try {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    const actionsRequestToken = config.actionsRequestToken ?? randomBytes(24).toString('base64url');
    const oidc = await createOidcServer({
      dataDir: join(config.dataDir, 'oidc'),
      host,
      port: port('oidc'),
      actionsRequestToken,
      logLevel,
    });
    closers.push(() => oidc.close());
    const ca = await createCaServer({
      dataDir: join(config.dataDir, 'ca'),
      host,
      port: port('ca'),
      logLevel,
      oidc: {
        issuers: [
          issuerFrom({ issuerUrl: oidc.issuer, type: 'github-workflow' }),
          ...(config.extraIssuers ?? []),
        ],
      },
    });
    closers.push(() => ca.close());
    const log = await createLogServer({
      dataDir: join(config.dataDir, 'log'),
      host,
      port: port('log'),
      logLevel,
      workers: config.logWorkers ?? 0,
      ...(config.logKeyFile ? { logKeyFile: config.logKeyFile } : {}),
    });
    closers.push(() => log.close());
    const logV2 = await createRekorV2Server({
      dataDir: join(config.dataDir, 'log-v2'),
      host,
      port: port('logV2'),
      logLevel,
      workers: config.logWorkers ?? 0,
    });
    closers.push(() => logV2.close());
    const tsa = await createTsaServer({
      dataDir: join(config.dataDir, 'tsa'),
      host,
      port: port('tsa'),
      logLevel,
    });
    closers.push(() => tsa.close());
    const registry =
      config.registry === 'none' ? undefined : await startRegistry(config.registry ?? 'auto', config.dataDir);
    if (registry) closers.push(() => registry.close());

    const logKey = pemBlocks(log.publicKeyPem).find((b) => b.type === 'PUBLIC KEY');
    if (!logKey || !ca.ct) throw new Error('log or CT key missing');
    // The services of one stack are created together: their keys are valid from the CA root's notBefore.
    const validFrom = new Date(new X509Certificate(ca.ca.rootDer).validFrom);
    const trustedRoot = buildTrustedRoot({
      ca: { uri: ca.url, chainDer: [ca.ca.intermediateDer, ca.ca.rootDer], validFrom },
      tsas: [{ uri: tsa.timestampUrl, chainDer: tsa.material.chainDer }],
      tlogs: [
        { baseUrl: log.publicUrl, publicKeyDer: logKey.der, validFrom },
        { baseUrl: logV2.publicUrl, publicKeyDer: logV2.publicKeyDer, validFrom },
      ],
      ctlogs: [{ baseUrl: `${ca.url}/ct`, publicKeyDer: ca.ct.publicKeyDer, validFrom }],
    });
    const trustedRootPath = join(config.dataDir, TRUSTED_ROOT_FILE);
    const rootText = `${JSON.stringify(trustedRoot, null, 2)}\n`;
    writeFileSync(trustedRootPath, rootText);
    const signingConfigPath = join(config.dataDir, SIGNING_CONFIG_FILE);
    const signingText = `${JSON.stringify(
      signingConfigToJson(
        buildSigningConfig({
          caUrl: ca.url,
          oidcUrl: oidc.url,
          rekorUrls: [log.publicUrl],
          rekorV2Urls: [logV2.publicUrl],
          tsaUrls: [tsa.timestampUrl],
          validFrom,
        }),
      ),
      null,
      2,
    )}\n`;
    writeFileSync(signingConfigPath, signingText);
    let trustFilesUrl: string | undefined;
    let tufRootPath: string | undefined;
    if (config.trustFiles) {
      const tuf = openServedTufRepository(config.dataDir, {
        [TRUSTED_ROOT_TARGET]: Buffer.from(rootText),
        [SIGNING_CONFIG_TUF_TARGET]: Buffer.from(signingText),
      });
      closers.push(async () => tuf.close());
      tufRootPath = tuf.rootPath;
      const files = await createTrustFilesServer({
        files: { [TRUSTED_ROOT_FILE]: rootText, [SIGNING_CONFIG_FILE]: signingText },
        tuf,
        host,
        port: port('trust'),
        logLevel,
      });
      closers.push(() => files.close());
      trustFilesUrl = files.url;
    }
    const env: Record<string, string> = {
      SIGIL_OIDC_URL: oidc.url,
      SIGIL_CA_URL: ca.url,
      SIGIL_LOG_URL: log.publicUrl,
      SIGIL_LOG_V2_URL: logV2.publicUrl,
      SIGIL_TSA_URL: tsa.timestampUrl,
      SIGIL_TRUSTED_ROOT: trustedRootPath,
      SIGIL_SIGNING_CONFIG: signingConfigPath,
      ...(config.dataDirInEnv === false ? {} : { SIGIL_DATA_DIR: config.dataDir }),
      ...(registry ? { SIGIL_REGISTRY: registry.host } : {}),
    };
    const envPath = join(config.dataDir, STACK_ENV_FILE);
    writeFileSync(
      envPath,
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
      trustFilesUrl,
      tufRootPath,
      actionsRequestToken,
      actionsRequestUrl: `${oidc.url}/actions/token`,
      trustedRoot,
      trustedRootPath,
      signingConfigPath,
      env,
      envPath,
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
