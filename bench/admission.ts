/**
 * `npm run bench:admission`: AdmissionReviews per second and p50/p99 latency of the admission
 * webhook over HTTPS at 32 keep-alive connections, cache warm and cache cold, against a real
 * stack on loopback: dev OIDC issuer, CA with CT, transparency log, Debian's docker-registry
 * (sigil's embedded registry when that binary is absent), images pushed and keyless-signed by
 * the real signing code. The admission servers run in a child process of their own (their
 * one-JSON-line-per-decision log going to a file); the load generator runs in this process,
 * idle stack beside it, as raw HTTP/1.1 over TLS with pre-serialized bodies so that the client
 * costs as little CPU as possible on a small machine.
 *
 * Phases (each: warm-up, then a fixed measuring window):
 * - baseline: a trivial JSON echo on the same server stack (createApp + HTTPS), same client;
 * - warm-pinned: POST /validate, digest-pinned images, verification cached (no registry call);
 * - warm-tag: POST /mutate, tagged images, verification cached; the tag → digest lookup still
 *   goes to the registry on every request;
 * - warm-tag-cached: the same with the short-lived tag → digest cache on (--tag-cache-ttl);
 * - cold: verification cache off: every request resolves the tag (or checks the pinned digest),
 *   fetches the `.sig` manifest and layer, and verifies signature, chain, SCT and log entry
 *   (half /validate pinned, half /mutate tagged).
 * Plus the raw single-core ECDSA P-256 verify rate measured in the same run.
 *
 * Every server is primed first (BENCH_PRIME_SECONDS of load each, unmeasured). Besides wall-clock
 * rates, each phase reports the server process's CPU time per review, a capacity figure that other
 * tenants of a shared machine disturb far less.
 *
 * Env: BENCH_SECONDS (5), BENCH_WARMUP_SECONDS (1), BENCH_PRIME_SECONDS (2), BENCH_CLIENTS (32),
 * BENCH_IMAGES (8).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { parseTrustedRoot } from '../src/bundle/index.js';
import {
  createRegistryServer,
  parseReference,
  pushImage,
  RegistryClient,
  tinyImage,
} from '../src/oci/index.js';
import { createApp, listen } from '../src/server/index.js';
import { createSigning, resolveImage, signImage } from '../src/sign/index.js';
import { startStack } from '../test/e2e/stack.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 1);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 32);
const IMAGES = Number(process.env.BENCH_IMAGES ?? 8);
const PRIME = Number(process.env.BENCH_PRIME_SECONDS ?? 2);
const DOCKER_REGISTRY = '/usr/bin/docker-registry';
const WORKFLOW_RE = '^https://github.com/org/repo/.github/workflows/CI-CD.yml@.*';
const TAG_CACHE_SUPPORTED = true;
const TARGETS = { warmPerSecond: 5000, warmP99Ms: 5, coldP99Ms: 50 };
const KYVERNO_ANCHOR = {
  averageLatencyMs: 35.6,
  note: "Kyverno's published load test: 100 virtual users, 3 replicas, no image verification",
};

// ---------------------------------------------------------------- load generator (parent process)

interface LoadSpec {
  port: number;
  ca: string;
  /** Request templates: HTTP head + body with `@@UID@@` where the uid goes. */
  requests: { path: string; body: string; expect: string }[];
  clients: number;
  warmupSeconds: number;
  seconds: number;
}

interface LoadResult {
  ok: number;
  unexpected: number;
  errors: number;
  seconds: number;
  perSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  firstUnexpected?: string;
  cpuAtEnd?: number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const round = (n: number): number => Math.round(n * 100) / 100;

async function runLoad(
  spec: LoadSpec,
  hooks: { onMeasureStart(): Promise<void>; onMeasureEnd(): Promise<number> },
): Promise<LoadResult> {
  let measuring = false;
  let stop = false;
  let seq = 0;
  const latencies: number[] = [];
  let ok = 0;
  let unexpected = 0;
  let errors = 0;
  let firstUnexpected: string | undefined;
  const parts = spec.requests.map((r) => {
    const [before, after] = r.body.split('@@UID@@') as [string, string];
    return { ...r, before, after };
  });
  let session: Buffer | undefined;

  const client = (index: number): Promise<void> =>
    new Promise((resolve) => {
      const socket: TLSSocket = connect({
        host: '127.0.0.1',
        port: spec.port,
        ca: spec.ca,
        ...(session ? { session } : {}),
      });
      socket.setNoDelay(true);
      socket.on('session', (s: Buffer) => (session ??= s));
      let buf: Buffer = Buffer.alloc(0);
      let sentAt = 0;
      let counted = false;
      let expectUid = '';
      let expect = '';
      let turn = index;
      const send = (): void => {
        if (stop) {
          socket.end();
          return;
        }
        const r = parts[turn++ % parts.length]!;
        expectUid = `bench-${++seq}`;
        expect = r.expect;
        const body = `${r.before}${expectUid}${r.after}`;
        counted = measuring;
        sentAt = performance.now();
        socket.write(
          `POST ${r.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        );
      };
      socket.on('secureConnect', send);
      socket.on('data', (chunk: Buffer) => {
        buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
        for (;;) {
          const headEnd = buf.indexOf('\r\n\r\n');
          if (headEnd < 0) return;
          const head = buf.subarray(0, headEnd).toString('latin1');
          const m = /content-length: *(\d+)/i.exec(head);
          const len = m ? Number(m[1]) : 0;
          if (buf.length < headEnd + 4 + len) return;
          const status = Number(head.slice(9, 12));
          const body = buf.subarray(headEnd + 4, headEnd + 4 + len).toString('utf8');
          buf = buf.subarray(headEnd + 4 + len);
          if (counted && measuring) {
            // Correctness on every answer: 200, the uid echoed, and the expected decision.
            if (status === 200 && body.includes(`"uid":"${expectUid}"`) && body.includes(expect)) {
              ok++;
              latencies.push(performance.now() - sentAt);
            } else {
              unexpected++;
              firstUnexpected ??= `${status} ${body.slice(0, 600)}`;
            }
          }
          send();
        }
      });
      socket.on('error', () => {
        errors++;
        resolve();
      });
      socket.on('close', () => resolve());
    });

  // Connect one first so the others resume its TLS session, as a real API server's pool would.
  const first = client(0);
  await new Promise((r) => setTimeout(r, 100));
  const all = [first, ...Array.from({ length: spec.clients - 1 }, (_, i) => client(i + 1))];
  await new Promise((r) => setTimeout(r, spec.warmupSeconds * 1000));
  await hooks.onMeasureStart();
  measuring = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, spec.seconds * 1000));
  measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  const cpuAtEnd = await hooks.onMeasureEnd();
  stop = true;
  await Promise.all(all);
  const lat = Float64Array.from(latencies).sort();
  return {
    ok,
    unexpected,
    errors,
    seconds: round(elapsed),
    perSecond: Math.round(ok / elapsed),
    latencyMs: {
      p50: round(percentile(lat, 50)),
      p90: round(percentile(lat, 90)),
      p99: round(percentile(lat, 99)),
      max: round(lat[lat.length - 1] ?? NaN),
    },
    ...(firstUnexpected ? { firstUnexpected } : {}),
    cpuAtEnd,
  };
}

// ---------------------------------------------------------------- the stack (parent process)

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
  stop(): Promise<void>;
}

async function startRegistry(): Promise<Registry> {
  try {
    const dir = mkdtempSync(join(tmpdir(), 'sigil-bench-registry-'));
    const { freePort } = await import('../test/helpers/registry.js');
    const port = await freePort();
    const config = join(dir, 'config.yml');
    writeFileSync(
      config,
      [
        'version: 0.1',
        'log:',
        '  level: error',
        '  accesslog:',
        '    disabled: true',
        'storage:',
        '  filesystem:',
        `    rootdirectory: ${JSON.stringify(join(dir, 'data'))}`,
        'http:',
        `  addr: 127.0.0.1:${port}`,
        '',
      ].join('\n'),
    );
    const child: ChildProcess = spawn(DOCKER_REGISTRY, ['serve', config], { stdio: 'ignore' });
    const spawned = await new Promise<boolean>((resolve) => {
      child.once('spawn', () => resolve(true));
      child.once('error', () => resolve(false));
    });
    if (!spawned) throw new Error('no docker-registry');
    for (let i = 0; ; i++) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/v2/`);
        await res.body?.cancel();
        if (res.ok) break;
      } catch {
        if (i > 200) throw new Error('docker-registry did not come up');
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return {
      host: `127.0.0.1:${port}`,
      kind: 'docker-registry (Debian, distribution v2)',
      async stop() {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch {
    const r = await createRegistryServer({ port: 0, logLevel: 'silent' });
    return { host: r.host, kind: 'sigil embedded registry (in the server process)', stop: () => r.close() };
  }
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
  /** Whether src/admission supports the tag → digest cache (measured when it does). */
  tagCache: boolean;
}

interface Serving {
  caPem: string;
  echo: number;
  warm: number;
  warmTagCached?: number;
  cold: number;
}

/**
 * The server process: three admission servers (default cache; default cache + 5 s tag cache;
 * verification cache off) and the echo baseline, all on one certificate. Pino's one line per
 * decision goes to this process's stdout, which the parent points at a file.
 */
async function serve(spec: ServeSpec): Promise<Serving> {
  // BENCH_ADMISSION_MODULE: another copy of src/admission (e.g. an older commit) to compare.
  const {
    createAdmissionServer,
    parsePolicyText,
    registryImageSource,
    SigstoreSignatureVerifier,
    generateServingTls,
  } = (await import(
    process.env.BENCH_ADMISSION_MODULE ?? '../src/admission/index.js'
  )) as typeof import('../src/admission/index.js');
  const policies = parsePolicyText(spec.policyYaml, 'bench-policy.yaml', { hasTrustedRoot: true });
  const root = parseTrustedRoot(spec.trustedRootJson);
  const tls = await generateServingTls();
  const port = (url: string): number => Number(new URL(url).port);
  const admission = async (extra: Record<string, unknown>): Promise<number> => {
    const s = await createAdmissionServer({
      policies,
      source: registryImageSource(new RegistryClient({ timeoutMs: 5000 })),
      verifier: new SigstoreSignatureVerifier(root),
      port: 0,
      tls: { cert: tls.cert, key: tls.key },
      logLevel: 'info',
      ...extra,
    });
    return port(s.url);
  };
  const echoApp = createApp({ logLevel: 'info', https: { cert: tls.cert, key: tls.key } });
  echoApp.post('/echo', async (req) => ({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid: (req.body as { request: { uid: string } }).request.uid, allowed: true },
  }));
  return {
    caPem: tls.caPem,
    echo: port(await listen(echoApp, 0)),
    warm: await admission({}),
    ...(spec.tagCache ? { warmTagCached: await admission({ tagCache: { ttlMs: 5000 } }) } : {}),
    cold: await admission({ cache: { ttlMs: 0 } }),
  };
}

function startServerProcess(
  spec: ServeSpec,
  logPath: string,
): Promise<{ proc: ChildProcess; serving: Serving }> {
  const fd = openSync(logPath, 'w');
  const prof = process.env.BENCH_PROFILE_DIR
    ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROFILE_DIR]
    : [];
  const proc = spawn(
    process.execPath,
    [...prof, '--import', 'tsx', new URL(import.meta.url).pathname, '--serve'],
    {
      stdio: ['ignore', fd, 'inherit', 'ipc'],
    },
  );
  closeSync(fd);
  return new Promise((resolve, reject) => {
    proc.once('message', (m) => resolve({ proc, serving: m as Serving }));
    proc.once('exit', (code) => reject(new Error(`server process exited ${code}`)));
    proc.send(spec);
  });
}

async function main(): Promise<void> {
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
    const logPath = join(stack.dir, 'admission-decisions.log');
    const started = await startServerProcess(
      { policyYaml, trustedRootJson: stack.trustedRootJson, tagCache: TAG_CACHE_SUPPORTED },
      logPath,
    );
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
    const serverCpu = (): Promise<number> =>
      new Promise((resolve) => {
        started.proc.once('message', (m) => resolve((m as { cpuMicros: number }).cpuMicros));
        started.proc.send('cpu');
      });
    const phase = async (
      port: number,
      requests: LoadSpec['requests'],
    ): Promise<LoadResult & { serverCpuMsPerReview: number; reviewsPerServerCpuSecond: number }> => {
      let cpuAtStart = 0;
      const r = await runLoad(
        { port, ca: serving.caPem, requests, clients: CLIENTS, warmupSeconds: WARMUP, seconds: SECONDS },
        {
          onMeasureStart: async () => void (cpuAtStart = await serverCpu()),
          onMeasureEnd: async () => serverCpu(),
        },
      );
      const cpuMs = (r.cpuAtEnd! - cpuAtStart) / 1000;
      delete r.cpuAtEnd;
      return {
        ...r,
        serverCpuMsPerReview: Math.round((cpuMs / Math.max(1, r.ok)) * 1000) / 1000,
        reviewsPerServerCpuSecond: Math.round(r.ok / (cpuMs / 1000)),
      };
    };

    const echo = [
      { path: '/echo', body: review('@@UID@@', 'echo', images[0]!.pinned), expect: '"allowed":true' },
    ];
    // Prime every server (JIT, connection pools, caches) before anything is measured.
    const prime = (port: number, requests: LoadSpec['requests']): Promise<LoadResult> =>
      runLoad(
        { port, ca: serving.caPem, requests, clients: CLIENTS, warmupSeconds: 0, seconds: PRIME },
        { onMeasureStart: async () => undefined, onMeasureEnd: async () => 0 },
      );
    await prime(serving.echo, echo);
    await prime(serving.warm, [...pinnedValidate, ...tagMutate]);
    if (serving.warmTagCached) await prime(serving.warmTagCached, tagMutate);
    await prime(serving.cold, [...pinnedValidate, ...tagMutate]);
    const baseline = await phase(serving.echo, echo);
    const warmPinned = await phase(serving.warm, pinnedValidate);
    const warmTag = await phase(serving.warm, tagMutate);
    const warmTagCache = serving.warmTagCached ? await phase(serving.warmTagCached, tagMutate) : undefined;
    const coldMixed = await phase(
      serving.cold,
      pinnedValidate.flatMap((p, i) => [p, tagMutate[i]!]),
    );
    const decisionLogLines = readFileSync(logPath, 'utf8')
      .split('\n')
      .filter((l) => l.includes('admission.decision')).length;
    const rawAfter = rawVerifyRate();
    const raw = (rawBefore + rawAfter) / 2;
    const ratio = (a: number, b: number): number => round(a / b);
    const warmTagBest = warmTagCache ?? warmTag;
    const result = {
      benchmark: 'admission',
      clients: CLIENTS,
      secondsPerPhase: SECONDS,
      images: IMAGES,
      registry: registry.kind,
      baselineHttpsEcho: baseline,
      warm: {
        pinnedValidate: warmPinned,
        tagMutate: warmTag,
        ...(warmTagCache ? { tagMutateWithTagCache5s: warmTagCache } : {}),
      },
      cold: coldMixed,
      rawP256VerifyPerSecondOneCore: Math.round(raw),
      rawVerifyBeforeAfter: [Math.round(rawBefore), Math.round(rawAfter)],
      ratios: {
        warmPinnedToEchoServerCpu: ratio(
          warmPinned.reviewsPerServerCpuSecond,
          baseline.reviewsPerServerCpuSecond,
        ),
        warmTagToEchoServerCpu: ratio(warmTag.reviewsPerServerCpuSecond, baseline.reviewsPerServerCpuSecond),
        ...(warmTagCache
          ? {
              warmTagCachedToEchoServerCpu: ratio(
                warmTagCache.reviewsPerServerCpuSecond,
                baseline.reviewsPerServerCpuSecond,
              ),
            }
          : {}),
        coldToEchoServerCpu: ratio(coldMixed.reviewsPerServerCpuSecond, baseline.reviewsPerServerCpuSecond),
        warmPinnedToEcho: ratio(warmPinned.perSecond, baseline.perSecond),
        warmTagToEcho: ratio(warmTag.perSecond, baseline.perSecond),
        ...(warmTagCache ? { warmTagCachedToEcho: ratio(warmTagCache.perSecond, baseline.perSecond) } : {}),
        coldToEcho: ratio(coldMixed.perSecond, baseline.perSecond),
        coldToRawVerify: ratio(coldMixed.perSecond, raw),
        kyvernoAverageToColdP50: ratio(KYVERNO_ANCHOR.averageLatencyMs, coldMixed.latencyMs.p50),
        kyvernoAverageToColdP99: ratio(KYVERNO_ANCHOR.averageLatencyMs, coldMixed.latencyMs.p99),
      },
      targets: {
        ...TARGETS,
        warmPinned: {
          perSecondMet: warmPinned.perSecond >= TARGETS.warmPerSecond,
          p99Met: warmPinned.latencyMs.p99 < TARGETS.warmP99Ms,
        },
        warmTag: {
          perSecondMet: warmTagBest.perSecond >= TARGETS.warmPerSecond,
          p99Met: warmTagBest.latencyMs.p99 < TARGETS.warmP99Ms,
        },
        coldP99Met: coldMixed.latencyMs.p99 < TARGETS.coldP99Ms,
      },
      decisionLogLines,
      kyvernoAnchor: KYVERNO_ANCHOR,
      machine: {
        cpus: availableParallelism(),
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
  process.on('message', (m) => {
    if (m !== 'cpu') return;
    const u = process.cpuUsage();
    process.send!({ cpuMicros: u.user + u.system });
  });
  process.once('SIGTERM', () => process.exit(0));
} else {
  await main();
}
