import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parseAllDocuments } from 'yaml';
import { parseTrustedRoot, type TrustedRoot } from '../bundle/index.js';
import { isSigilError } from '../errors/index.js';
import { chainCredentials, loadDockerCredentials, RegistryClient } from '../oci/index.js';
import { closeOnSignals } from '../server/index.js';
import {
  AdmissionEngine,
  applyJsonPatch,
  createAdmissionServer,
  DECISION_MEDIA_TYPE,
  DEFAULT_ADMISSION_PORT,
  DEFAULT_EXCLUDED_NAMESPACES,
  DEFAULT_SERVICE,
  DEFAULT_TIMEOUT_MS,
  loadPolicies,
  registryImageSource,
  SigstoreSignatureVerifier,
  type Decision,
  type FailurePolicy,
  type ImagePolicy,
} from '../admission/index.js';
import { CliError, printJson } from './output.js';

const MAX_TRUSTED_ROOT_BYTES = 4 * 1024 * 1024;
const MAX_RESOURCE_BYTES = 4 * 1024 * 1024;

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

function intFlag(v: string, flag: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new CliError(`${flag} must be an integer from ${min} to ${max}`);
  return n;
}

function readTrustedRoot(path: string | undefined): TrustedRoot | undefined {
  const file = path ?? process.env.SIGIL_TRUSTED_ROOT;
  if (!file) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CliError(
      `cannot read trusted root ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  if (text.length > MAX_TRUSTED_ROOT_BYTES) throw new CliError(`trusted root ${file} is too large`);
  try {
    return parseTrustedRoot(JSON.parse(text));
  } catch (e) {
    throw new CliError(`invalid trusted root ${file}: ${(e as Error).message}`);
  }
}

async function policiesFrom(paths: string[] | undefined, hasTrustedRoot: boolean): Promise<ImagePolicy[]> {
  if (!paths || paths.length === 0) throw new CliError('at least one --policy FILE_OR_DIR is required');
  try {
    const policies = await loadPolicies(paths, { hasTrustedRoot });
    if (policies.length === 0)
      throw new CliError(`no ClusterPolicy, Policy or ImageValidatingPolicy found in ${paths.join(', ')}`);
    return policies;
  } catch (e) {
    if (isSigilError(e, 'INVALID_POLICY')) {
      throw new CliError(
        `invalid policy: ${e.message}`,
        hasTrustedRoot ? undefined : 'keyless attestors without roots need --trusted-root FILE',
      );
    }
    throw e;
  }
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

interface CommonFlags {
  policy?: string[];
  trustedRoot?: string;
  allowInsecureRegistry?: boolean;
  timeout?: string;
}

async function setUp(f: CommonFlags) {
  const root = readTrustedRoot(f.trustedRoot);
  const policies = await policiesFrom(f.policy, root !== undefined);
  const timeoutMs =
    f.timeout === undefined ? DEFAULT_TIMEOUT_MS : intFlag(f.timeout, '--timeout', 100, 30_000);
  const client = new RegistryClient({
    credentials: chainCredentials(loadDockerCredentials()),
    insecureRegistries: f.allowInsecureRegistry ? registriesOf(policies) : [],
    timeoutMs,
  });
  return {
    root,
    policies,
    timeoutMs,
    source: registryImageSource(client),
    verifier: new SigstoreSignatureVerifier(root),
  };
}

interface ServeFlags extends CommonFlags {
  port: string;
  host: string;
  tlsCert?: string;
  tlsKey?: string;
  excludeNamespace?: string[];
  failurePolicy: string;
  cacheTtl?: string;
  cacheSize?: string;
  tagCacheTtl?: string;
  serviceName: string;
  serviceNamespace: string;
  logLevel: string;
}

async function serve(f: ServeFlags): Promise<void> {
  if ((f.tlsCert === undefined) !== (f.tlsKey === undefined))
    throw new CliError('--tls-cert and --tls-key go together');
  if (f.failurePolicy !== 'Fail' && f.failurePolicy !== 'Ignore')
    throw new CliError('--failure-policy must be Fail or Ignore');
  const { policies, timeoutMs, source, verifier } = await setUp(f);
  const read = (p: string): string => {
    try {
      return readFileSync(p, 'utf8');
    } catch (e) {
      throw new CliError(`cannot read ${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  const server = await createAdmissionServer({
    policies,
    source,
    verifier,
    host: f.host,
    port: intFlag(f.port, '--port', 0, 65535),
    ...(f.tlsCert && f.tlsKey ? { tls: { cert: read(f.tlsCert), key: read(f.tlsKey) } } : {}),
    service: { name: f.serviceName, namespace: f.serviceNamespace },
    excludedNamespaces: f.excludeNamespace ?? DEFAULT_EXCLUDED_NAMESPACES,
    failurePolicy: f.failurePolicy as FailurePolicy,
    timeoutMs,
    cache: {
      ...(f.cacheTtl ? { ttlMs: intFlag(f.cacheTtl, '--cache-ttl', 0, 86_400) * 1000 } : {}),
      ...(f.cacheSize ? { maxEntries: intFlag(f.cacheSize, '--cache-size', 0, 1_000_000) } : {}),
    },
    ...(f.tagCacheTtl ? { tagCache: { ttlMs: intFlag(f.tagCacheTtl, '--tag-cache-ttl', 0, 60) * 1000 } } : {}),
    logLevel: f.logLevel,
  });
  process.stderr.write(
    `sigil admission: ${policies.length} polic${policies.length === 1 ? 'y' : 'ies'} (${policies.map((p) => p.name).join(', ')}); ` +
      `listening on ${server.url} (/validate, /mutate)\n`,
  );
  if (server.caBundle) {
    process.stderr.write(
      'sigil admission: generated a self-signed serving certificate; put this in the webhook configurations:\n',
    );
    process.stdout.write(`caBundle: ${server.caBundle}\n`);
  }
  closeOnSignals(() => server.close());
}

interface TestFlags extends CommonFlags {
  resource?: string[];
  namespace: string;
}

function resourcesFrom(paths: string[] | undefined): Record<string, unknown>[] {
  if (!paths || paths.length === 0) throw new CliError('at least one --resource FILE is required');
  const out: Record<string, unknown>[] = [];
  for (const p of paths) {
    let text: string;
    try {
      text = readFileSync(p, 'utf8');
    } catch (e) {
      throw new CliError(`cannot read ${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (text.length > MAX_RESOURCE_BYTES) throw new CliError(`${p} is too large`);
    for (const d of parseAllDocuments(text)) {
      if (d.errors.length > 0) throw new CliError(`${p}: not valid YAML: ${d.errors[0]?.message ?? ''}`);
      const v: unknown = d.toJS();
      if (v === null || v === undefined) continue;
      if (typeof v !== 'object' || Array.isArray(v) || typeof (v as { kind?: unknown }).kind !== 'string') {
        throw new CliError(`${p}: every document must be a Kubernetes object with a kind`);
      }
      out.push(v as Record<string, unknown>);
    }
  }
  return out;
}

/**
 * Like `kyverno apply`: each resource goes through the mutating pass (verification + digest
 * pins), the patch is applied, then the validating pass runs on the patched object.
 */
async function testPolicies(f: TestFlags): Promise<void> {
  const { policies, timeoutMs, source, verifier } = await setUp(f);
  const engine = new AdmissionEngine({ policies, source, verifier, timeoutMs, excludedNamespaces: [] });
  let denied = 0;
  const results: unknown[] = [];
  for (const object of resourcesFrom(f.resource)) {
    const meta = (object.metadata ?? {}) as Record<string, unknown>;
    const input = {
      kind: object.kind as string,
      namespace: typeof meta.namespace === 'string' ? meta.namespace : f.namespace,
      name: typeof meta.name === 'string' ? meta.name : '',
      operation: 'CREATE',
      object,
    };
    let mutate: Decision;
    let validate: Decision | undefined;
    try {
      mutate = await engine.evaluate(input, 'mutate');
      if (mutate.allowed)
        validate = await engine.evaluate(
          { ...input, object: applyJsonPatch(object, mutate.patch) },
          'validate',
        );
    } catch (e) {
      if (isSigilError(e, 'INVALID_INPUT')) throw new CliError(`${input.kind}/${input.name}: ${e.message}`);
      throw e;
    }
    const final = validate ?? mutate;
    if (!final.allowed) denied++;
    for (const w of final.warnings) process.stderr.write(`sigil: warning: ${w}\n`);
    if (!final.allowed) process.stderr.write(`sigil: denied:${final.message ?? ''}`);
    results.push({
      mediaType: DECISION_MEDIA_TYPE,
      resource: `${input.kind}/${input.namespace}/${input.name}`,
      allowed: final.allowed,
      ...(final.message ? { message: final.message } : {}),
      warnings: final.warnings,
      patch: mutate.patch,
      results: [...mutate.results, ...(validate?.results ?? [])].map((r) => ({
        policy: r.policy,
        rule: r.rule,
        image: r.image,
        status: r.status,
        message: r.message,
        ...(r.digest ? { digest: r.digest } : {}),
      })),
    });
  }
  printJson(results.length === 1 ? results[0] : results);
  const pass = results.length - denied;
  process.stderr.write(`pass: ${pass}, denied: ${denied}\n`);
  if (denied > 0) process.exitCode = 1;
}

function withCommon(c: Command): Command {
  return c
    .option(
      '--policy <file-or-dir>',
      'Kyverno ClusterPolicy/Policy/ImageValidatingPolicy YAML (repeatable)',
      collect,
    )
    .option(
      '--trusted-root <file>',
      'trusted_root.json standing in for roots / rekor.pubkey / ctlog.pubkey (default: SIGIL_TRUSTED_ROOT)',
    )
    .option(
      '--allow-insecure-registry',
      'speak plain HTTP to the registries the policies name (loopback always may)',
    )
    .option('--timeout <ms>', `decide within this many milliseconds (default ${DEFAULT_TIMEOUT_MS})`);
}

export function register(program: Command): void {
  const admission = program
    .command('admission')
    .description('Kubernetes admission webhook verifying image signatures (Kyverno policies)');
  withCommon(
    admission.command('serve').description('serve AdmissionReview v1 on HTTPS: POST /validate, POST /mutate'),
  )
    .option('--port <n>', 'port (0 = any free port)', String(DEFAULT_ADMISSION_PORT))
    .option('--host <addr>', 'listen address (0.0.0.0 in a cluster)', '127.0.0.1')
    .option('--tls-cert <file>', 'PEM serving certificate (chain); without it a self-signed one is generated')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option(
      '--exclude-namespace <ns>',
      `namespace never checked (repeatable; default ${DEFAULT_EXCLUDED_NAMESPACES.join(', ')})`,
      collect,
    )
    .option(
      '--failure-policy <Fail|Ignore>',
      'on registry/log errors: deny (Fail) or admit with a warning (Ignore)',
      'Fail',
    )
    .option('--cache-ttl <seconds>', 'keep successful verifications this long (default 3600; 0 disables)')
    .option('--cache-size <n>', 'at most this many cached verifications (default 1000)')
    .option(
      '--tag-cache-ttl <seconds>',
      'remember tag → digest answers this long on /mutate only, where the patch pins the verified digest (default 0 = off, at most 60)',
    )
    .option('--service-name <name>', 'Service name for the generated certificate SANs', DEFAULT_SERVICE.name)
    .option(
      '--service-namespace <ns>',
      'Service namespace for the generated certificate SANs',
      DEFAULT_SERVICE.namespace,
    )
    .option('--log-level <level>', 'pino level (one JSON line per decision at info)', 'info')
    .action((f: ServeFlags) => serve(f));
  const test = (c: Command): Command =>
    withCommon(c)
      .option('--resource <file>', 'Kubernetes object YAML (repeatable; multi-document allowed)', collect)
      .option('--namespace <ns>', 'namespace for objects that name none', 'default')
      .action((f: TestFlags) => testPolicies(f));
  test(
    admission
      .command('test')
      .description('evaluate resources against policies like `kyverno apply`; exit 1 on deny'),
  );
  const policy = program.command('policy').description('admission policies');
  test(
    policy
      .command('test')
      .description('evaluate resources against policies like `kyverno apply`; exit 1 on deny'),
  );
}
