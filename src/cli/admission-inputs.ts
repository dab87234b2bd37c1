import { parseTrustedRoot, type TrustedRoot } from '../bundle/index.js';
import { isSigilError } from '../errors/index.js';
import {
  chainCredentials,
  type CredentialStore,
  DEFAULT_PLATFORM,
  dockerConfigPath,
  loadDockerCredentials,
  loadMountedCredentials,
  parsePlatform,
  RegistryClient,
} from '../oci/index.js';
import {
  DEFAULT_SERVICE,
  DEFAULT_TIMEOUT_MS,
  deprecationNotice,
  isClusterWorker,
  parsePolicySources,
  readPolicySources,
  registryImageSource,
  SigstoreSignatureVerifier,
  type ImagePolicy,
  type PolicySource,
} from '../admission/index.js';
import { intFlag, readTrustedRootFile } from './flags.js';
import { cliIo } from './io.js';
import { CliError } from './output.js';

/** What `sigil admission serve` and `sigil admission test` read alike: trusted root, policies, registry access. */
export const MAX_RESOURCE_BYTES = 4 * 1024 * 1024;

export function readTrustedRootText(path: string | undefined): { file: string; text: string } | undefined {
  const file = path ?? cliIo().env.SIGIL_TRUSTED_ROOT;
  if (!file) return undefined;
  return { file, text: readTrustedRootFile(file) };
}

function parseTrustedRootText(root: { file: string; text: string } | undefined): TrustedRoot | undefined {
  if (!root) return undefined;
  try {
    return parseTrustedRoot(JSON.parse(root.text));
  } catch (e) {
    throw new CliError(`invalid trusted root ${root.file}: ${(e as Error).message}`);
  }
}

function policyError(e: unknown, hasTrustedRoot: boolean): unknown {
  if (!isSigilError(e, 'INVALID_POLICY')) return e;
  return new CliError(
    `invalid policy: ${e.message}`,
    hasTrustedRoot ? undefined : 'keyless attestors without roots need --trusted-root FILE',
  );
}

export async function policySourcesFrom(paths: string[] | undefined): Promise<PolicySource[]> {
  if (!paths || paths.length === 0) throw new CliError('at least one --policy FILE_OR_DIR is required');
  try {
    return await readPolicySources(paths);
  } catch (e) {
    throw policyError(e, true);
  }
}

function policiesFrom(sources: readonly PolicySource[], hasTrustedRoot: boolean): ImagePolicy[] {
  let policies: ImagePolicy[];
  try {
    policies = parsePolicySources(sources, { hasTrustedRoot });
  } catch (e) {
    throw policyError(e, hasTrustedRoot);
  }
  const notice = deprecationNotice(policies);
  // Once per command: the primary reads the policies before its workers do.
  if (notice && !isClusterWorker()) cliIo().stderr.write(`sigil: warning: ${notice}\n`);
  if (policies.length === 0)
    throw new CliError(
      `no ClusterPolicy, Policy or ImageValidatingPolicy found in ${sources.map((x) => x.source).join(', ')}`,
    );
  return policies;
}

/** Registries named literally (no wildcard in the host part) by the policies' image patterns. */
function registriesOf(policies: readonly ImagePolicy[]): string[] {
  const hosts = new Set<string>();
  for (const p of policies) {
    for (const r of p.rules) {
      for (const w of r.imageReferences) {
        const host = w.pattern.split('/')[0] ?? '';
        if (w.pattern.includes('/') && host && !/[*?]/.test(host)) hosts.add(host.toLowerCase());
      }
    }
  }
  return [...hosts];
}

export interface CommonFlags {
  policy?: string[];
  trustedRoot?: string;
  allowInsecureRegistry?: boolean;
  timeout?: string;
  registryCredentials?: string;
  platform?: string;
  /** The webhook's namespace: bare secret names under --registry-credentials are in it. */
  serviceNamespace?: string;
}

/** Policy texts and trusted root as read once (by the primary, for every worker). */
export interface Inputs {
  sources: PolicySource[];
  root?: { file: string; text: string };
}

export async function readInputs(f: CommonFlags): Promise<Inputs> {
  const root = readTrustedRootText(f.trustedRoot);
  return { sources: await policySourcesFrom(f.policy), ...(root ? { root } : {}) };
}

export function setUp(f: CommonFlags, inputs: Inputs) {
  const root = parseTrustedRootText(inputs.root);
  const policies = policiesFrom(inputs.sources, root !== undefined);
  const timeoutMs =
    f.timeout === undefined ? DEFAULT_TIMEOUT_MS : intFlag(f.timeout, '--timeout', 100, 30_000);
  const mounted = f.registryCredentials
    ? loadMountedCredentials(f.registryCredentials, f.serviceNamespace ?? DEFAULT_SERVICE.namespace)
    : undefined;
  const platform = parsePlatform(f.platform ?? DEFAULT_PLATFORM);
  const clientWith = (credentials: CredentialStore): RegistryClient =>
    new RegistryClient({
      credentials,
      insecureRegistries: f.allowInsecureRegistry ? registriesOf(policies) : [],
      timeoutMs,
    });
  // The defaults (nothing names a secret): a docker config directly in DIR, then ~/.docker.
  const client = clientWith(
    chainCredentials(mounted?.store, loadDockerCredentials(dockerConfigPath(cliIo().env))),
  );
  return {
    root,
    policies,
    timeoutMs,
    source: registryImageSource(client, { platform, clientWith, ...(mounted ? { mounted } : {}) }),
    verifier: new SigstoreSignatureVerifier(root),
  };
}
