import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parseAllDocuments } from 'yaml';
import { isSigilError } from '../errors/index.js';
import { DEFAULT_PLATFORM } from '../oci/index.js';
import { closeOnSignals } from '../server/index.js';
import {
  type AdmissionInput,
  applyJsonPatch,
  createAdmissionServer,
  DECISION_MEDIA_TYPE,
  DEFAULT_ADMISSION_PORT,
  DEFAULT_EXCLUDED_NAMESPACES,
  DEFAULT_SERVICE,
  DEFAULT_TIMEOUT_MS,
  defaultWorkerCount,
  generateServingTls,
  isClusterWorker,
  runAdmissionWorker,
  serviceDnsNames,
  startAdmissionCluster,
  type Decision,
  type FailurePolicy,
  type ImagePolicy,
} from '../admission/index.js';
import {
  MAX_RESOURCE_BYTES,
  policySourcesFrom,
  readInputs,
  readTrustedRootText,
  setUp,
  type CommonFlags,
  type Inputs,
} from './admission-inputs.js';
import { collect, intFlag } from './flags.js';
import { CliError, printJson } from './output.js';
import { runKyvernoTests, testEngine } from './kyverno-test.js';

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
  workers?: string;
}

/** What each worker process starts from (sent by the primary over IPC). */
interface ServePayload extends Inputs {
  tls?: { cert: string; key: string };
}

function checkServeFlags(f: ServeFlags): number {
  if ((f.tlsCert === undefined) !== (f.tlsKey === undefined))
    throw new CliError('--tls-cert and --tls-key go together');
  if (f.failurePolicy !== 'Fail' && f.failurePolicy !== 'Ignore')
    throw new CliError('--failure-policy must be Fail or Ignore');
  return f.workers === undefined ? defaultWorkerCount() : intFlag(f.workers, '--workers', 1, 256);
}

function startServer(f: ServeFlags, p: ServePayload, metricsText?: () => Promise<string>) {
  const { policies, timeoutMs, source, verifier } = setUp(f, p);
  return createAdmissionServer({
    policies,
    source,
    verifier,
    host: f.host,
    port: intFlag(f.port, '--port', 0, 65535),
    ...(p.tls ? { tls: p.tls } : {}),
    service: { name: f.serviceName, namespace: f.serviceNamespace },
    excludedNamespaces: f.excludeNamespace ?? DEFAULT_EXCLUDED_NAMESPACES,
    failurePolicy: f.failurePolicy as FailurePolicy,
    timeoutMs,
    cache: {
      ...(f.cacheTtl ? { ttlMs: intFlag(f.cacheTtl, '--cache-ttl', 0, 86_400) * 1000 } : {}),
      ...(f.cacheSize ? { maxEntries: intFlag(f.cacheSize, '--cache-size', 0, 1_000_000) } : {}),
    },
    ...(f.tagCacheTtl
      ? { tagCache: { ttlMs: intFlag(f.tagCacheTtl, '--tag-cache-ttl', 0, 60) * 1000 } }
      : {}),
    logLevel: f.logLevel,
    ...(metricsText ? { metricsText } : {}),
  });
}

function announce(
  policies: readonly ImagePolicy[],
  url: string,
  caBundle: string | undefined,
  workers: number,
) {
  process.stderr.write(
    `sigil admission: ${policies.length} polic${policies.length === 1 ? 'y' : 'ies'} (${policies.map((p) => p.name).join(', ')}); ` +
      `listening on ${url} (/validate, /mutate)${workers > 1 ? ` in ${workers} worker processes` : ''}\n`,
  );
  if (caBundle) {
    process.stderr.write(
      'sigil admission: generated a self-signed serving certificate; put this in the webhook configurations:\n',
    );
    process.stdout.write(`caBundle: ${caBundle}\n`);
  }
}

/**
 * One process (--workers 1), or a node:cluster primary whose workers re-run this command
 * (cluster.ts): the primary reads and checks policies, trusted root and certificate once and
 * sends them to every worker, so all of them serve the same policies with the same key.
 */
async function serve(f: ServeFlags): Promise<void> {
  const workers = checkServeFlags(f);
  if (isClusterWorker()) {
    return runAdmissionWorker<ServePayload>(async (p, metricsText) => {
      const s = await startServer(f, p, metricsText);
      return { url: s.url, registry: s.metrics.registry, close: () => s.close() };
    });
  }
  const read = (p: string): string => {
    try {
      return readFileSync(p, 'utf8');
    } catch (e) {
      throw new CliError(`cannot read ${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  const inputs = await readInputs(f);
  const tlsFiles = f.tlsCert && f.tlsKey ? { cert: read(f.tlsCert), key: read(f.tlsKey) } : undefined;
  if (workers === 1) {
    const server = await startServer(f, { ...inputs, ...(tlsFiles ? { tls: tlsFiles } : {}) });
    announce(server.engine.policies, server.url, server.caBundle, 1);
    closeOnSignals(() => server.close());
    return;
  }
  const { policies } = setUp(f, inputs); // refuses what a worker would, before any is started
  intFlag(f.port, '--port', 0, 65535);
  const generated = tlsFiles
    ? undefined
    : await generateServingTls(serviceDnsNames(f.serviceName, f.serviceNamespace));
  const tls = tlsFiles ?? { cert: generated!.cert, key: generated!.key };
  let cluster;
  try {
    cluster = await startAdmissionCluster<ServePayload>({ workers, payload: { ...inputs, tls } });
  } catch (e) {
    throw new CliError(`admission workers did not start: ${(e as Error).message}`);
  }
  announce(policies, cluster.url, generated?.caBundle, workers);
  closeOnSignals(() => cluster.close());
}

interface TestFlags extends CommonFlags {
  resource?: string[];
  namespace: string;
  registryDir?: string;
  user?: string;
  group?: string[];
}

/** `sigil policy test [DIR|kyverno-test.yaml ...]`: each manifest's policies set up as for `--policy`. */
function kyvernoTests(paths: string[], f: TestFlags): Promise<void> {
  const root = readTrustedRootText(f.trustedRoot);
  return runKyvernoTests(paths, {
    namespace: f.namespace,
    ...(f.registryDir ? { registryDir: f.registryDir } : {}),
    setUp: async (policyFiles) =>
      setUp(f, { sources: await policySourcesFrom(policyFiles), ...(root ? { root } : {}) }),
  });
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
  const engine = testEngine(setUp(f, await readInputs(f)));
  let denied = 0;
  const results: unknown[] = [];
  for (const object of resourcesFrom(f.resource)) {
    const meta = (object.metadata ?? {}) as Record<string, unknown>;
    // The same request fields the webhook reads from an AdmissionReview (see parseAdmissionReview).
    const apiVersion = typeof object.apiVersion === 'string' ? object.apiVersion.split('/') : [];
    const name = typeof meta.name === 'string' ? meta.name : '';
    const input: AdmissionInput = {
      kind: object.kind as string,
      namespace: typeof meta.namespace === 'string' ? meta.namespace : f.namespace,
      name: name || (typeof meta.generateName === 'string' ? meta.generateName : ''),
      operation: 'CREATE',
      object,
      ...(apiVersion.length === 2 ? { group: apiVersion[0]!, version: apiVersion[1]! } : {}),
      ...(apiVersion.length === 1 ? { group: '', version: apiVersion[0]! } : {}),
      ...(f.user !== undefined || f.group
        ? { userInfo: { username: f.user ?? '', groups: f.group ?? [] } }
        : {}),
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
      ...(final.ivpResults
        ? {
            imageValidatingPolicies: final.ivpResults.map((r) => ({
              policy: r.policy,
              kind: r.kind,
              status: r.status,
              ...(r.message ? { message: r.message } : {}),
              actions: [...r.actions],
              images: r.images,
            })),
          }
        : {}),
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
    .option('--timeout <ms>', `decide within this many milliseconds (default ${DEFAULT_TIMEOUT_MS})`)
    .option(
      '--registry-credentials <dir>',
      'mounted kubernetes.io/dockerconfigjson pull secrets: DIR/<name> (the webhook namespace), DIR/<namespace>/<name>; used where a pod (imagePullSecrets) or policy (imageRegistryCredentials.secrets) names them; a config directly in DIR is the default; each credential goes only to its registry',
    )
    .option(
      '--platform <os/arch[/variant]>',
      `for a multi-arch index, also accept signatures on this platform's manifest (default ${DEFAULT_PLATFORM})`,
    );
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
    .option(
      '--workers <n>',
      'processes accepting connections on the one port (default: the number of CPUs, capped by a cgroup CPU limit; 1 = a single process)',
    )
    .action((f: ServeFlags) => serve(f));
  const test = (c: Command): Command =>
    withCommon(c)
      .option('--resource <file>', 'Kubernetes object YAML (repeatable; multi-document allowed)', collect)
      .option('--namespace <ns>', 'namespace for objects that name none', 'default')
      .option(
        '--user <name>',
        "the requesting user match/exclude `subjects` see (the review's userInfo.username)",
      )
      .option('--group <name>', 'a group of the requesting user (repeatable)', collect)
      .action((f: TestFlags) => testPolicies(f));
  test(
    admission
      .command('test')
      .description('evaluate resources against policies like `kyverno apply`; exit 1 on deny'),
  );
  const policy = program.command('policy').description('admission policies');
  withCommon(
    policy
      .command('test')
      .description(
        'evaluate resources against policies like `kyverno apply` (exit 1 on deny), or run kyverno-test.yaml suites like `kyverno test` (exit 1 when a result differs)',
      )
      .argument('[tests...]', 'kyverno-test.yaml files or directories holding them'),
  )
    .option('--resource <file>', 'Kubernetes object YAML (repeatable; multi-document allowed)', collect)
    .option('--namespace <ns>', 'namespace for objects that name none', 'default')
    .option(
      '--registry-dir <dir>',
      'images and signatures from this saved sigil registry directory, whatever host a resource names (offline)',
    )
    .action((tests: string[], f: TestFlags) => (tests.length > 0 ? kyvernoTests(tests, f) : testPolicies(f)));
}
