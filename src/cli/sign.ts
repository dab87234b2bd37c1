import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { isSigilError } from '../errors/index.js';
import { RegistryClient } from '../oci/client.js';
import { chainCredentials, dockerConfigPath, loadDockerCredentials, staticCredentials } from '../oci/auth.js';
import { parseReference, type ImageReference } from '../oci/reference.js';
import { fallbackTag, type ReferrersMode } from '../oci/referrers.js';
// Modules of src/sign/ by name, not its index: the CLI loads only what a command uses (start-up);
// the token providers and the signing factory are imported by the code that signs.
import { loadPrivateKeyFile } from '../sign/keyfile.js';
import { resolveImage, signImage, type ResolvedImage } from '../sign/image.js';
import { signImageBundle, type BundleSignResult } from '../sign/image-bundle.js';
import type { BundleBuilder } from '../sign/bundle-builder.js';
import { SIGNING_CONFIG_FILE, stackDefaults } from '../sign/stack.js';
import type { SigningConfig } from '../sign/factory.js';
import { parseSigningConfig, type SigningConfig as SigstoreSigningConfig } from '../signing-config/config.js';
import { chooseServices } from '../signing-config/resolve.js';
import { checkUrl } from './flags.js';
import { CliError } from './output.js';
import { cliIo } from './io.js';

/** Flags shared by every command that talks to a registry. */
export interface RegistryFlags {
  allowInsecureRegistry?: boolean;
  registryUsername?: string;
  registryPassword?: string;
}

/** Flags shared by the signing commands (sign, sign-blob, attest). */
export interface SigningFlags {
  yes?: boolean;
  key?: string;
  fulcioUrl?: string;
  rekorUrl?: string;
  identityToken?: string;
  dataDir?: string;
  signingConfig?: string;
  timestampServerUrl?: string;
}

export const progress = (line: string): void => {
  cliIo().stderr.write(`${line}\n`);
};

export function withRegistryFlags(c: Command): Command {
  return c
    .option('--allow-insecure-registry', 'allow plain HTTP (and skip TLS checks) for the registry of IMAGE')
    .option('--registry-username <name>', 'registry user (default: ~/.docker/config.json)')
    .option('--registry-password <password>', 'registry password or token');
}

/** How `sign` and `attest` store what they make. */
export interface LayoutFlags {
  registryReferrersMode?: string;
  legacyLayout?: boolean;
  recursive?: boolean;
}

export function withLayoutFlags(c: Command): Command {
  return c
    .option(
      '--registry-referrers-mode <mode>',
      'auto (referrers API if the registry has it, else the fallback tag), oci-1-1 (require the API) or legacy (always the fallback tag sha256-<hex>)',
      'auto',
    )
    .option(
      '--legacy-layout',
      'write the pre-v3 cosign layout (sha256-<hex>.sig / .att tags) instead of bundle referrers',
    )
    .option('--recursive', 'for a multi-arch index, also sign every platform manifest');
}

export function referrersMode(f: LayoutFlags): ReferrersMode {
  const m = f.registryReferrersMode ?? 'auto';
  if (m !== 'auto' && m !== 'oci-1-1' && m !== 'legacy')
    throw new CliError(
      `invalid --registry-referrers-mode ${JSON.stringify(m)}`,
      'use auto, oci-1-1 or legacy',
    );
  if (f.legacyLayout && f.recursive)
    throw new CliError('--recursive needs the v3 layout (drop --legacy-layout)');
  return m;
}

/**
 * The common path of `sign` and `attest`: flags checked, signing set up (token first), the image
 * resolved, the upload confirmed; then the v3 bundle referrers, or `legacy()` for the old layout.
 */
export async function signWithLayout(
  image: string,
  f: SigningFlags & RegistryFlags & LayoutFlags,
  v3: { predicateType?: string; predicate?: unknown; annotations?: Record<string, string> },
  legacy: (ctx: { client: RegistryClient; image: ResolvedImage; builder: BundleBuilder }) => Promise<string>,
): Promise<void> {
  const ref = parseImage(image);
  const mode = referrersMode(f);
  const config = await signingConfig(f);
  const client = registryClient(ref, f);
  const resolved = await resolveImage(client, ref, progress);
  await confirmUpload(f.yes, config.logUrl!);
  const { createSigning } = await import('../sign/factory.js');
  const { builder } = createSigning(config);
  if (f.legacyLayout) return progress(await legacy({ client, image: resolved, builder }));
  const results = await signImageBundle({
    client,
    image: resolved.ref,
    builder,
    ...v3,
    mode,
    recursive: f.recursive === true,
    progress,
  });
  for (const r of results) progress(describePushed(r));
}

export function describePushed(r: BundleSignResult): string {
  const where =
    r.pushed.via === 'referrers-api'
      ? 'as an OCI 1.1 referrer'
      : `in the fallback tag ${fallbackTag(r.digest)}`;
  return `Bundle for ${r.digest} stored ${where}: ${r.pushed.ref.context()}@${r.pushed.ref.digest}`;
}

export function withSigningFlags(c: Command): Command {
  return c
    .option('-y, --yes', 'skip the confirmation prompt before uploading to the transparency log')
    .option('--key <file>', 'sign with this private key file instead of keyless (password: SIGIL_PASSWORD)')
    .option(
      '--fulcio-url <url>',
      'CA base URL (default: SIGIL_CA_URL, the stack of `sigil up`, or http://127.0.0.1:5555)',
    )
    .option(
      '--rekor-url <url>',
      'transparency log base URL (default: SIGIL_LOG_URL, the stack of `sigil up`, or http://127.0.0.1:3000)',
    )
    .option(
      '--identity-token <jwt>',
      'OIDC identity token (default: SIGSTORE_ID_TOKEN, or the GitHub Actions token-request endpoint)',
    )
    .option(
      '--data-dir <dir>',
      'data directory of `sigil up` holding stack.env (default: SIGIL_DATA_DIR or ./.sigil)',
    )
    .option(
      '--signing-config <file>',
      'SigningConfig v0.2 naming the CA, logs and TSAs (default: SIGIL_SIGNING_CONFIG, else signing_config.json in the data directory, if any)',
    )
    .option(
      '--timestamp-server-url <url>',
      'RFC 3161 timestamp URL (e.g. http://127.0.0.1:5580/api/v1/timestamp); wins over the signing config',
    );
}

/** The signing config of --signing-config, else the data directory's, else none. */
function loadSigningConfig(f: SigningFlags, dataDir: string): SigstoreSigningConfig | undefined {
  const named = f.signingConfig ?? (cliIo().env.SIGIL_SIGNING_CONFIG || undefined);
  const path = named ?? join(dataDir, SIGNING_CONFIG_FILE);
  if (named === undefined && !existsSync(path)) return undefined;
  try {
    return parseSigningConfig(readFileSync(path));
  } catch (e) {
    throw new CliError(
      `cannot use signing config ${path}: ${isSigilError(e) ? e.message : ((e as NodeJS.ErrnoException).code ?? (e as Error).message)}`,
    );
  }
}

/** CA, logs and TSAs: flags win, then the signing config, then stack.env / env / default ports. */
function chosenServices(f: SigningFlags): {
  caUrl: string;
  logUrls: string[];
  rekorV2Urls: string[];
  tsaUrls: string[];
} {
  const stack = stackDefaults(cliIo().env, f.dataDir);
  const explicit = {
    ...(f.fulcioUrl !== undefined ? { caUrl: checkUrl(f.fulcioUrl, '--fulcio-url') } : {}),
    ...(f.rekorUrl !== undefined ? { logUrl: checkUrl(f.rekorUrl, '--rekor-url') } : {}),
    ...(f.timestampServerUrl !== undefined
      ? { tsaUrl: checkUrl(f.timestampServerUrl, '--timestamp-server-url') }
      : {}),
  };
  let chosen;
  try {
    // The legacy layout's cosign bundle annotation needs a SET, which only a Rekor v1 log signs.
    const legacy = (f as SigningFlags & LayoutFlags).legacyLayout === true;
    chosen = chooseServices(
      loadSigningConfig(f, stack.dataDir),
      explicit,
      new Date(),
      legacy ? [1] : undefined,
    );
  } catch (e) {
    if (isSigilError(e)) throw new CliError(e.message);
    throw e;
  }
  return {
    caUrl: chosen.caUrl ?? stack.caUrl,
    logUrls: chosen.logUrls.length > 0 ? chosen.logUrls : [stack.logUrl],
    rekorV2Urls: chosen.rekorV2Urls,
    tsaUrls: chosen.tsaUrls,
  };
}

export function parseImage(input: string): ImageReference {
  try {
    return parseReference(input);
  } catch (e) {
    throw new CliError((e as Error).message, 'write images as REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]');
  }
}

export function registryClient(ref: ImageReference, f: RegistryFlags): RegistryClient {
  if ((f.registryUsername === undefined) !== (f.registryPassword === undefined)) {
    throw new CliError('--registry-username and --registry-password go together');
  }
  const explicit =
    f.registryUsername !== undefined
      ? staticCredentials({ username: f.registryUsername, password: f.registryPassword! }, ref.registry)
      : undefined;
  return new RegistryClient({
    credentials: chainCredentials(explicit, loadDockerCredentials(dockerConfigPath(cliIo().env))),
    insecureRegistries: f.allowInsecureRegistry ? [ref.registry] : [],
  });
}

/** Reads a password: SIGIL_PASSWORD, else a prompt on the terminal (input not echoed). */
export async function readPassword(question: string): Promise<string> {
  const env = cliIo().env.SIGIL_PASSWORD;
  if (env !== undefined) return env;
  if (!process.stdin.isTTY)
    throw new CliError('no password given and no terminal to ask on', 'set SIGIL_PASSWORD');
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    const out = rl as unknown as { _writeToOutput?: (s: string) => void };
    cliIo().stderr.write(question);
    out._writeToOutput = () => undefined;
    rl.question('', (answer) => {
      rl.close();
      cliIo().stderr.write('\n');
      resolve(answer);
    });
  });
}

/**
 * Asks before anything goes to the log. With --yes it does not ask; with no terminal and no
 * --yes it refuses rather than wait for an answer that cannot come (seed §5).
 */
export async function confirmUpload(yes: boolean | undefined, logUrl: string): Promise<void> {
  if (yes) return;
  const notice =
    `The signature, the certificate (with your identity) and the artifact digest will be recorded in the\n` +
    `transparency log at ${logUrl}; entries cannot be removed.\n`;
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    throw new CliError(
      'refusing to upload to the transparency log without confirmation: no terminal to ask on',
      'pass --yes to confirm non-interactively',
    );
  }
  cliIo().stderr.write(notice);
  const answer = await new Promise<string>((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    rl.question('Are you sure you would like to continue? [y/N] ', (a) => {
      rl.close();
      resolve(a);
    });
  });
  if (!/^y(es)?$/i.test(answer.trim()))
    throw new CliError('signing aborted: the upload to the transparency log was not confirmed');
}

/**
 * Turns the signing flags into a SigningConfig: the key file (with its password) or keyless
 * with a token obtained now (so a missing token fails before any prompt), the CA and log URLs.
 */
export async function signingConfig(f: SigningFlags): Promise<SigningConfig> {
  const services = chosenServices(f);
  const [logUrl, ...extraLogUrls] = services.logUrls;
  const common = {
    logUrl: checkUrl(logUrl!, '--rekor-url'),
    ...(extraLogUrls.length > 0 ? { extraLogUrls } : {}),
    ...(services.rekorV2Urls.length > 0 ? { rekorV2Urls: services.rekorV2Urls } : {}),
    ...(services.tsaUrls.length > 0 ? { tsaUrls: services.tsaUrls } : {}),
    progress,
  };
  if (f.key !== undefined) {
    const password = await readPassword('Enter password for private key: ');
    const keys = wrapErrors(() => loadPrivateKeyFile(f.key!, password));
    return { key: { kind: 'key-file', ...keys }, ...common };
  }
  const caUrl = checkUrl(services.caUrl, '--fulcio-url');
  const { getIdentityToken, NO_TOKEN_HINT, NO_TOKEN_MESSAGE } = await import('../oidc/providers.js');
  let token: string;
  try {
    token = await getIdentityToken({
      ...(f.identityToken ? { token: f.identityToken } : {}),
      env: cliIo().env,
      audience: 'sigstore',
    });
  } catch (e) {
    if (isSigilError(e) && e.message === NO_TOKEN_MESSAGE)
      throw new CliError(NO_TOKEN_MESSAGE, NO_TOKEN_HINT);
    if (isSigilError(e))
      throw new CliError(
        e.message.startsWith('getting credentials') ? e.message : `getting credentials: ${e.message}`,
      );
    throw e;
  }
  return { key: { kind: 'keyless', caUrl, tokens: { token, env: {} } }, ...common };
}

function wrapErrors<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (isSigilError(e)) throw new CliError(e.message);
    throw e;
  }
}

/** Parses `-a key=value` annotations. */
export function parseAnnotations(list: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of list) {
    const i = a.indexOf('=');
    if (i <= 0) throw new CliError(`annotation ${JSON.stringify(a)} is not key=value`);
    out[a.slice(0, i)] = a.slice(i + 1);
  }
  return out;
}

export function register(program: Command): void {
  withLayoutFlags(
    withRegistryFlags(
      withSigningFlags(
        program
          .command('sign')
          .description(
            'sign a container image by digest (keyless by default): a DSSE bundle stored as an OCI referrer, as cosign v3 does',
          )
          .argument('<image>', 'REGISTRY/REPOSITORY@sha256:DIGEST (a tag is resolved to its digest)')
          .option(
            '-a, --annotations <key=value>',
            'extra key=value pairs for the signed payload (repeatable)',
            (v: string, acc: string[]) => [...acc, v],
            [],
          ),
      ),
    ),
  ).action(
    async (image: string, f: SigningFlags & RegistryFlags & LayoutFlags & { annotations: string[] }) => {
      const annotations = parseAnnotations(f.annotations);
      await signWithLayout(image, f, { annotations }, async (ctx) => {
        const r = await signImage({ ...ctx, annotations, progress });
        return r.attached.added
          ? `Signature attached to ${r.attached.ref.context()}:${r.attached.ref.tag} (${r.attached.layers} signature(s))`
          : 'An identical signature was already attached';
      });
    },
  );
}
