/**
 * `npm run bench:admission`: AdmissionReviews per second and p50/p99 latency of the admission
 * webhook over HTTPS at 32 keep-alive connections, cache warm and cache cold, against a real
 * stack on loopback: dev OIDC issuer, CA with CT, transparency log, Debian's docker-registry
 * (sigil's embedded registry when that binary is absent), images pushed and keyless-signed by
 * the real signing code. The admission servers run in a child process of their own (their
 * one-JSON-line-per-decision log going to a file). The load generator is Debian's `wrk` (C, one
 * thread, its own process) when installed, else a Node client in this process (see
 * admission-load.ts); the output names the one that ran, and every phase, the baselines
 * included, uses it.
 *
 * Phases (each: warm-up, then a fixed measuring window):
 * - baselines: a trivial JSON echo (parse the review, answer allowed with its uid) on a plain
 *   node:https server, and on the Fastify stack of the other sigil servers, same certificate;
 * - warm-pinned: POST /validate, digest-pinned images, verification cached (no registry call);
 * - warm-tag: POST /mutate, tagged images, verification cached; the tag → digest lookup still
 *   goes to the registry on every request;
 * - warm-tag-cached: the same with the short-lived tag → digest cache on (--tag-cache-ttl);
 * - cold (at 32, 8 and 1 connections): see COLD_DEFINITION.
 * Plus the raw single-core ECDSA P-256 verify rate measured in the same run.
 *
 * Every server is primed first (BENCH_PRIME_SECONDS of load each, unmeasured). Besides wall-clock
 * rates, each phase reports CPU time per review of the server process, of the registry process
 * and of the load generator: capacity figures that other tenants of a shared machine disturb far
 * less than rates and latencies.
 *
 * Env: BENCH_SECONDS (5), BENCH_WARMUP_SECONDS (1), BENCH_PRIME_SECONDS (2), BENCH_CLIENTS (32),
 * BENCH_IMAGES (8), BENCH_LOADGEN (node forces the Node client), BENCH_DECISION_LOG (where the
 * servers' stdout goes; default a file beside the stack), BENCH_PROFILE_DIR (a CPU profile
 * of the server process per measuring window, `<phase>.cpuprofile`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { Session } from 'node:inspector';
import { createServer as createHttpsServer } from 'node:https';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseTrustedRoot } from '../src/bundle/index.js';
import {
  createRegistryServer,
  parseReference,
  pushImage,
  RegistryClient,
  tinyImage,
} from '../src/oci/index.js';
import { DOCKER_REGISTRY_BIN, startDockerRegistryProcess } from '../src/oci/docker-registry.js';
import { createApp, listen } from '../src/server/index.js';
import { createSigning, resolveImage, signImage } from '../src/sign/index.js';
import { startStack } from '../test/e2e/stack.js';
import { pickLoadGenerator, processCpuMs, type LoadResult, type LoadSpec } from './admission-load.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 1);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 32);
const IMAGES = Number(process.env.BENCH_IMAGES ?? 8);
const PRIME = Number(process.env.BENCH_PRIME_SECONDS ?? 2);
const COLD_LOWER_CONCURRENCY = [8, 1];
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR;
const WORKFLOW_RE = '^https://github.com/org/repo/.github/workflows/CI-CD.yml@.*';
const TARGETS = { warmPerSecond: 5000, warmP99Ms: 5, coldP99Ms: 50 };
const KYVERNO_ANCHOR = {
  averageLatencyMs: 35.6,
  note: "Kyverno's published load test: 100 virtual users, 3 replicas, no image verification",
};
const COLD_DEFINITION =
  'verification cache off: every review verifies its image afresh. Every review asks the registry, ' +
  'none of it remembered between reviews: the tag -> digest lookup (HEAD manifest by tag; a pinned ' +
  'digest is checked to exist with HEAD manifest by digest), the .sig manifest (GET) and its ' +
  'signature layer blob (GET); then the full offline check: leaf certificate parsed and its chain ' +
  'signature checked, SCT, Rekor SET, payload signature, payload claims, Kyverno identity. What a ' +
  'process keeps across reviews: the parsed trusted root (CA and log keys, intermediate->root ' +
  'signatures) and the log checkpoint signatures already checked. Half the reviews are /validate ' +
  'digest-pinned, half /mutate by tag.';
function rawVerifyRate(ms = 1000): number {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const data = randomBytes(64);
  const sig = sign('sha256', data, privateKey);
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    for (let i = 0; i < 100; i++) verify('sha256', data, publicKey, sig);
    n += 100;
  }
  return n / ((performance.now() - start) / 1000);
}

interface Registry {
  host: string;
  kind: string;
  /** The registry's own process (docker-registry), whose CPU time is reported per review. */
  pid?: number;
  stop(): Promise<void>;
}

async function startRegistry(): Promise<Registry> {
  if (existsSync(DOCKER_REGISTRY_BIN)) {
    const root = mkdtempSync(join(tmpdir(), 'sigil-bench-registry-'));
    const r = await startDockerRegistryProcess({ root });
    return {
      host: r.host,
      kind: 'docker-registry (Debian, distribution v2, own process)',
      pid: r.pid,
      async stop() {
        await r.close();
        rmSync(root, { recursive: true, force: true });
      },
    };
  }
  const r = await createRegistryServer({ port: 0, logLevel: 'silent' });
  return {
    host: r.host,
    kind: `sigil embedded registry in the bench process (${DOCKER_REGISTRY_BIN} absent: apt-get install -y docker-registry)`,
    stop: () => r.close(),
  };
}

function review(uidPlaceholder: string, name: string, image: string): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: uidPlaceholder,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'default',
      name,
      operation: 'CREATE',
      userInfo: {
        username: 'system:serviceaccount:kube-system:replicaset-controller',
        groups: ['system:serviceaccounts'],
      },
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: 'default', labels: { app: name, 'pod-template-hash': '5d8c7f9b6d' } },
        spec: {
          containers: [
            {
              name: 'app',
              image,
              ports: [{ containerPort: 8080, protocol: 'TCP' }],
              resources: { requests: { cpu: '100m', memory: '128Mi' } },
            },
          ],
          serviceAccountName: 'default',
          restartPolicy: 'Always',
        },
      },
    },
  });
}

interface ServeSpec {
  policyYaml: string;
  trustedRootJson: Record<string, unknown>;
}

interface Serving {
  caPem: string;
  echoPlain: number;
  echoFastify: number;
  warm: number;
  warmTagCached: number;
  cold: number;
}

const echoAnswer = (body: unknown): string =>
  JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid: (body as { request: { uid: string } }).request.uid, allowed: true },
  });

/** The floor of any Node HTTPS JSON service: node:https, parse the body, answer with its uid. */
function plainEcho(tls: { cert: string; key: string }): Promise<number> {
  const server = createHttpsServer(tls, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const out = echoAnswer(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
      res.end(out);
    });
  });
  server.keepAliveTimeout = 72_000;
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
  );
}

/**
 * The server process: three admission servers (default cache; default cache + 5 s tag cache;
 * verification cache off) and the two echo baselines, all on one certificate. The one line
 * per decision goes to this process's stdout, which the parent points at a file.
 */
async function serve(spec: ServeSpec): Promise<Serving> {
  // BENCH_ADMISSION_MODULE: src/admission/index.ts of another checkout (e.g. an older commit),
  // run with that checkout's src/oci registry client, to compare in the same conditions.
  const other = process.env.BENCH_ADMISSION_MODULE;
  const admissionModule = other ?? '../src/admission/index.js';
  const ociModule = other ? new URL('../oci/index.ts', pathToFileURL(other)).href : '../src/oci/index.js';
  const {
    createAdmissionServer,
    parsePolicyText,
    registryImageSource,
    SigstoreSignatureVerifier,
    generateServingTls,
  } = (await import(admissionModule)) as typeof import('../src/admission/index.js');
  const { RegistryClient: Client } = (await import(ociModule)) as typeof import('../src/oci/index.js');
  const policies = parsePolicyText(spec.policyYaml, 'bench-policy.yaml', { hasTrustedRoot: true });
  const root = parseTrustedRoot(spec.trustedRootJson);
  const tls = await generateServingTls();
  const port = (url: string): number => Number(new URL(url).port);
  const admission = async (extra: Record<string, unknown>): Promise<number> => {
    const s = await createAdmissionServer({
      policies,
      source: registryImageSource(new Client({ timeoutMs: 5000 })),
      verifier: new SigstoreSignatureVerifier(root),
      port: 0,
      tls: { cert: tls.cert, key: tls.key },
      logLevel: 'info',
      ...extra,
    });
    return port(s.url);
  };
  const echoApp = createApp({ logLevel: 'info', https: { cert: tls.cert, key: tls.key } });
  echoApp.post('/echo', async (req, reply) =>
    reply.header('content-type', 'application/json').send(echoAnswer(req.body)),
  );
  return {
    caPem: tls.caPem,
    echoPlain: await plainEcho({ cert: tls.cert, key: tls.key }),
    echoFastify: port(await listen(echoApp, 0)),
    warm: await admission({}),
    warmTagCached: await admission({ tagCache: { ttlMs: 5000 } }),
    cold: await admission({ cache: { ttlMs: 0 } }),
  };
}

function startServerProcess(
  spec: ServeSpec,
  logPath: string,
): Promise<{ proc: ChildProcess; serving: Serving }> {
  const fd = openSync(logPath, 'w');
  const proc = spawn(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, '--serve'], {
    stdio: ['ignore', fd, 'inherit', 'ipc'],
  });
  closeSync(fd);
  return new Promise((resolve, reject) => {
    proc.once('message', (m) => resolve({ proc, serving: m as Serving }));
    proc.once('exit', (code) => reject(new Error(`server process exited ${code}`)));
    proc.send(spec);
  });
}

const round = (n: number): number => Math.round(n * 100) / 100;
const round3 = (n: number): number => Math.round(n * 1000) / 1000;

type Phase = LoadResult & {
  clients: number;
  serverCpuMsPerReview: number;
  reviewsPerServerCpuSecond: number;
  registryCpuMsPerReview?: number;
};

async function main(): Promise<void> {
  const { generator, note } = pickLoadGenerator();
  if (PROFILE_DIR) mkdirSync(PROFILE_DIR, { recursive: true });
  const rawBefore = rawVerifyRate();
  const registry = await startRegistry();
  const stack = await startStack();
  let server: ChildProcess | undefined;
  try {
    // Push and sign the images with the real signing code (keyless: dev issuer → CA → log).
    const client = new RegistryClient();
    const { builder } = createSigning({
      key: { kind: 'keyless', caUrl: stack.ca.url, tokens: { token: await stack.oidc.mint(), env: {} } },
      logUrl: stack.log.url,
    });
    const images: { tag: string; pinned: string }[] = [];
    for (let i = 0; i < IMAGES; i++) {
      const tag = `${registry.host}/org/rs-bench-${i}:v1`;
      const digest = await pushImage(client, parseReference(tag), tinyImage(`bench image ${i}`));
      await signImage({ client, image: await resolveImage(client, parseReference(tag)), builder });
      images.push({ tag, pinned: `${registry.host}/org/rs-bench-${i}:v1@${digest}` });
    }
    const policyYaml = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: check-images
spec:
  rules:
    - name: check-signature
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
        - imageReferences: ["${registry.host}/org/rs-*"]
          failureAction: Enforce
          attestors:
            - entries:
                - keyless:
                    subjectRegExp: "${WORKFLOW_RE}"
                    issuer: "${stack.oidc.issuer}"
                    rekor:
                      url: ${stack.log.url}
`;
    const logPath = process.env.BENCH_DECISION_LOG ?? join(stack.dir, 'admission-decisions.log');
    const started = await startServerProcess({ policyYaml, trustedRootJson: stack.trustedRootJson }, logPath);
    server = started.proc;
    const { serving } = started;

    const pinnedValidate = images.map((im, i) => ({
      path: '/validate',
      body: review('@@UID@@', `pinned-${i}`, im.pinned),
      expect: '"allowed":true',
    }));
    const tagMutate = images.map((im, i) => ({
      path: '/mutate',
      body: review('@@UID@@', `tag-${i}`, im.tag),
      expect: '"patchType":"JSONPatch"',
    }));
    // Server CPU per phase (user + system of the server process): a capacity figure that the
    // other tenants of a shared machine disturb much less than wall-clock rates.
    const serverCpuMs = (): Promise<number> =>
      new Promise((resolve) => {
        started.proc.once('message', (m) => resolve((m as { cpuMicros: number }).cpuMicros / 1000));
        started.proc.send('cpu');
      });
    // BENCH_PROFILE_DIR: the server process's CPU profile of each measuring window, one file per phase.
    const profile = (m: { profile: 'start' } | { profile: 'stop'; file: string }): Promise<void> =>
      new Promise((resolve) => {
        if (!PROFILE_DIR) return resolve();
        started.proc.once('message', () => resolve());
        started.proc.send(m);
      });
    const phase = async (
      name: string,
      port: number,
      requests: LoadSpec['requests'],
      clients = CLIENTS,
    ): Promise<Phase> => {
      let server0 = 0;
      let server1 = 0;
      let registry0 = 0;
      let registry1 = 0;
      const r = await generator.run(
        { port, ca: serving.caPem, requests, clients, warmupSeconds: WARMUP, seconds: SECONDS },
        {
          onMeasureStart: async () => {
            await profile({ profile: 'start' });
            server0 = await serverCpuMs();
            registry0 = registry.pid ? processCpuMs(registry.pid) : NaN;
          },
          onMeasureEnd: async () => {
            server1 = await serverCpuMs();
            registry1 = registry.pid ? processCpuMs(registry.pid) : NaN;
            await profile({ profile: 'stop', file: join(PROFILE_DIR ?? '', `${name}.cpuprofile`) });
          },
        },
      );
      const n = Math.max(1, r.ok);
      return {
        clients,
        ...r,
        serverCpuMsPerReview: round3((server1 - server0) / n),
        reviewsPerServerCpuSecond: Math.round(r.ok / ((server1 - server0) / 1000)),
        ...(registry.pid ? { registryCpuMsPerReview: round3((registry1 - registry0) / n) } : {}),
      };
    };

    const echo = [
      { path: '/echo', body: review('@@UID@@', 'echo', images[0]!.pinned), expect: '"allowed":true' },
    ];
    // Prime every server (JIT, connection pools, caches) before anything is measured.
    const prime = (port: number, requests: LoadSpec['requests']): Promise<LoadResult> =>
      generator.run(
        { port, ca: serving.caPem, requests, clients: CLIENTS, warmupSeconds: 0, seconds: PRIME },
        { onMeasureStart: async () => undefined, onMeasureEnd: async () => undefined },
      );
    const coldRequests = pinnedValidate.flatMap((p, i) => [p, tagMutate[i]!]);
    await prime(serving.echoPlain, echo);
    await prime(serving.echoFastify, echo);
    await prime(serving.warm, [...pinnedValidate, ...tagMutate]);
    await prime(serving.warmTagCached, tagMutate);
    await prime(serving.cold, coldRequests);
    const echoPlain = await phase('echo-plain', serving.echoPlain, echo);
    const echoFastify = await phase('echo-fastify', serving.echoFastify, echo);
    const warmPinned = await phase('warm-pinned', serving.warm, pinnedValidate);
    const warmTag = await phase('warm-tag', serving.warm, tagMutate);
    const warmTagCache = await phase('warm-tag-cached', serving.warmTagCached, tagMutate);
    const cold = await phase('cold', serving.cold, coldRequests);
    const coldLower: Record<string, Phase> = {};
    for (const c of COLD_LOWER_CONCURRENCY)
      coldLower[`clients${c}`] = await phase(`cold-${c}`, serving.cold, coldRequests, c);
    const decisionLogLines =
      existsSync(logPath) && logPath !== '/dev/null'
        ? readFileSync(logPath, 'utf8')
            .split('\n')
            .filter((l) => l.includes('admission.decision')).length
        : 'not counted';
    const rawAfter = rawVerifyRate();
    const raw = (rawBefore + rawAfter) / 2;
    const ratio = (a: number, b: number): number => round(a / b);
    const cores = availableParallelism();
    // What 2 shared cores allow at CLIENTS concurrent cold reviews (Little's law): the server is
    // one thread, and server + registry + load generator share the cores.
    const coldCpu =
      cold.serverCpuMsPerReview + (cold.registryCpuMsPerReview ?? 0) + cold.clientCpuMsPerReview;
    const coldCapacity = Math.min(1000 / cold.serverCpuMsPerReview, (cores * 1000) / coldCpu);
    const result = {
      benchmark: 'admission',
      loadGenerator: generator.name,
      ...(note ? { loadGeneratorNote: note } : {}),
      clients: CLIENTS,
      secondsPerPhase: SECONDS,
      images: IMAGES,
      registry: registry.kind,
      baselineHttpsEcho: { plainNodeHttps: echoPlain, fastify: echoFastify },
      warm: {
        pinnedValidate: warmPinned,
        tagMutate: warmTag,
        tagMutateWithTagCache5s: warmTagCache,
      },
      coldDefinition: COLD_DEFINITION,
      cold,
      coldAtLowerConcurrency: coldLower,
      coldBound: {
        cpuMsPerReviewAllProcesses: round3(coldCpu),
        reviewsPerSecondAtMost: Math.round(coldCapacity),
        meanLatencyMsAtLeast: round((CLIENTS * 1000) / coldCapacity),
        note: `at ${CLIENTS} concurrent reviews the mean latency cannot be below ${CLIENTS} / (the lower of 1 core / server CPU and ${cores} cores / CPU of server + registry + load generator)`,
      },
      rawP256VerifyPerSecondOneCore: Math.round(raw),
      rawVerifyBeforeAfter: [Math.round(rawBefore), Math.round(rawAfter)],
      ratios: {
        warmPinnedToPlainEchoServerCpu: ratio(
          warmPinned.reviewsPerServerCpuSecond,
          echoPlain.reviewsPerServerCpuSecond,
        ),
        warmTagCachedToPlainEchoServerCpu: ratio(
          warmTagCache.reviewsPerServerCpuSecond,
          echoPlain.reviewsPerServerCpuSecond,
        ),
        warmPinnedToPlainEcho: ratio(warmPinned.perSecond, echoPlain.perSecond),
        warmPinnedToFastifyEcho: ratio(warmPinned.perSecond, echoFastify.perSecond),
        warmTagToPlainEcho: ratio(warmTag.perSecond, echoPlain.perSecond),
        warmTagCachedToPlainEcho: ratio(warmTagCache.perSecond, echoPlain.perSecond),
        coldToPlainEcho: ratio(cold.perSecond, echoPlain.perSecond),
        coldToRawVerify: ratio(cold.perSecond, raw),
        kyvernoAverageToColdP50: ratio(KYVERNO_ANCHOR.averageLatencyMs, cold.latencyMs.p50),
        kyvernoAverageToColdP99: ratio(KYVERNO_ANCHOR.averageLatencyMs, cold.latencyMs.p99),
      },
      targets: {
        ...TARGETS,
        warmPinned: {
          perSecondMet: warmPinned.perSecond >= TARGETS.warmPerSecond,
          p99Met: warmPinned.latencyMs.p99 < TARGETS.warmP99Ms,
        },
        warmTagWithTagCache: {
          perSecondMet: warmTagCache.perSecond >= TARGETS.warmPerSecond,
          p99Met: warmTagCache.latencyMs.p99 < TARGETS.warmP99Ms,
        },
        coldP99Met: cold.latencyMs.p99 < TARGETS.coldP99Ms,
      },
      decisionLog: { path: logPath, lines: decisionLogLines },
      kyvernoAnchor: KYVERNO_ANCHOR,
      machine: {
        cpus: cores,
        model: cpus()[0]?.model ?? 'unknown',
        node: process.version,
        loadAverage1m: round(loadavg()[0]!),
      },
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await new Promise((r) => server!.once('exit', r));
    }
    await stack.close();
    await registry.stop();
  }
}

if (process.argv.includes('--serve')) {
  process.once('message', (spec) => {
    serve(spec as ServeSpec).then(
      (s) => process.send!(s),
      (e: unknown) => {
        process.stderr.write(`bench server: ${e instanceof Error ? e.stack : String(e)}\n`);
        process.exit(1);
      },
    );
  });
  const session = new Session();
  session.connect();
  const post = (method: string): Promise<unknown> =>
    new Promise((resolve, reject) => session.post(method, (err, res) => (err ? reject(err) : resolve(res))));
  process.on('message', (m) => {
    if (m === 'cpu') {
      const u = process.cpuUsage();
      process.send!({ cpuMicros: u.user + u.system });
      return;
    }
    const p = m as { profile?: 'start' | 'stop'; file?: string };
    if (p.profile === 'start') {
      void post('Profiler.enable')
        .then(() => post('Profiler.start'))
        .then(() => process.send!('ok'));
    } else if (p.profile === 'stop') {
      void post('Profiler.stop').then((r) => {
        writeFileSync(p.file!, JSON.stringify((r as { profile: unknown }).profile));
        process.send!('ok');
      });
    }
  });
  process.once('SIGTERM', () => process.exit(0));
} else {
  await main();
}
