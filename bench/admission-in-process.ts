/**
 * `npm run bench:admission -- --in-process`: CPU time per warm AdmissionReview of the
 * ImageValidatingPolicy and of the ClusterPolicy it is written from, in one process, measured
 * with process.cpuUsage() over blocks of reviews that alternate between the two (IVP, CP, CP,
 * IVP, …), so whatever else the machine is doing falls on both alike. Wall-clock rates on a
 * shared machine move with the neighbours; CPU time per review mostly does not.
 *
 * Each review goes through what the webhook does for it: JSON parse (bounded), AdmissionReview
 * parse, AdmissionEngine.evaluate (the same engine, cache and IVP seams as
 * createAdmissionServer builds), one decision-log line (stringified, then dropped) and the
 * response JSON. TLS and HTTP are left out: they cost both policies the same (the HTTP mode,
 * without --in-process, measures them). The engine alone is reported too.
 *
 * The stack is real: Debian's docker-registry (sigil's embedded registry when absent), the dev
 * OIDC issuer, CA and transparency log; images pushed and keyless-signed by the signing code.
 * Scenarios: pinned /validate (every verification cached, no registry call) and tagged
 * /mutate (the tag → digest lookup goes to the registry on every review, as in the HTTP mode).
 *
 * Env: BENCH_IP_ROUNDS (10 block pairs), BENCH_IP_BLOCK (reviews per block, 2000),
 * BENCH_IP_CONCURRENCY (reviews in flight, 8), BENCH_IMAGES (8), BENCH_IP_SCENARIOS (which to run, for
 * a profile: pinned,tag,engine).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createRegistryServer,
  parseReference,
  pushImage,
  RegistryClient,
  tinyImage,
} from '../src/oci/index.js';
import { DOCKER_REGISTRY_BIN, startDockerRegistryProcess } from '../src/oci/docker-registry.js';
import { createSigning, resolveImage, signImage } from '../src/sign/index.js';
import { parseTrustedRoot } from '../src/bundle/index.js';
import {
  admissionResponse,
  AdmissionEngine,
  parseAdmissionReview,
  parsePolicySources,
  registryImageSource,
  SigstoreSignatureVerifier,
  VerificationCache,
  type Mode,
  type RuleVerdict,
} from '../src/admission/index.js';
import { DecisionLog } from '../src/admission/decision-log.js';
import { ivpVerificationFor } from '../src/admission/ivp/verifier.js';
import { parseJsonBounded } from '../src/server/json-depth.js';
import { startStack } from '../test/e2e/stack.js';
import { seedClusterPolicy, seedIvp } from '../test/admission/ivp/seed-policies.js';
import { round } from './measure.js';

const ROUNDS = Number(process.env.BENCH_IP_ROUNDS ?? 10);
const BLOCK = Number(process.env.BENCH_IP_BLOCK ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_IP_CONCURRENCY ?? 8);
const IMAGES = Number(process.env.BENCH_IMAGES ?? 8);
const SCENARIOS = new Set((process.env.BENCH_IP_SCENARIOS ?? 'pinned,tag,engine').split(','));

/** The AdmissionReview of a one-container pod, as the API server sends it. */
export function review(uid: string, name: string, image: string): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
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

interface Case {
  mode: Mode;
  body: string;
}

type Review = (c: Case) => Promise<boolean>;

/** The webhook's per-review work minus TLS/HTTP; `engineOnly` skips parse, log and response. */
function reviewer(engine: AdmissionEngine, engineOnly: boolean): Review {
  const log = DecisionLog.create('info', { write: () => undefined })!;
  let seq = 0;
  const parsedOnce = new Map<string, ReturnType<typeof parseAdmissionReview>>();
  return async ({ mode, body }) => {
    if (engineOnly) {
      let p = parsedOnce.get(body);
      if (!p) parsedOnce.set(body, (p = parseAdmissionReview(JSON.parse(body))));
      const d = await engine.evaluate(p.input, mode);
      return d.allowed;
    }
    const started = performance.now();
    const parsed = parseAdmissionReview(parseJsonBounded(body));
    const d = await engine.evaluate(parsed.input, mode);
    const ms = Math.round((performance.now() - started) * 10) / 10;
    log.write({ endpoint: mode, reqId: ++seq, uid: parsed.uid, input: parsed.input, outcome: 'allowed', ms, decision: d });
    JSON.stringify(admissionResponse(parsed.uid, d));
    return d.allowed && (mode === 'validate' || d.patch.length > 0);
  };
}

/** CPU µs (user + system, every thread of this process) per review over one block. */
async function block(run: Review, cases: readonly Case[], n: number): Promise<number> {
  let next = 0;
  let bad = 0;
  const t0 = process.cpuUsage();
  const lane = async (): Promise<void> => {
    while (next < n) {
      const c = cases[next++ % cases.length]!;
      if (!(await run(c))) bad++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  const d = process.cpuUsage(t0);
  if (bad > 0) throw new Error(`${bad} reviews were not answered as expected`);
  return (d.user + d.system) / n;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Alternating blocks (ABBA): per-block µs for each, and the ratio of medians and of per-pair ratios. */
async function interleaved(
  ivp: Review,
  cp: Review,
  cases: readonly Case[],
  calls: { cp: number; ivp: number },
) {
  const before = { ...calls };
  for (let i = 0; i < 2; i++) {
    await block(ivp, cases, BLOCK);
    await block(cp, cases, BLOCK);
  }
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2 === 0) {
      a.push(await block(ivp, cases, BLOCK));
      b.push(await block(cp, cases, BLOCK));
    } else {
      b.push(await block(cp, cases, BLOCK));
      a.push(await block(ivp, cases, BLOCK));
    }
  }
  const pairRatios = a.map((x, i) => x / b[i]!);
  const reviews = (ROUNDS + 2) * BLOCK;
  return {
    registryCallsPerReview: {
      ivp: round((calls.ivp - before.ivp) / reviews),
      clusterPolicy: round((calls.cp - before.cp) / reviews),
    },
    ivpCpuMicrosPerReview: { median: round(median(a)), min: round(Math.min(...a)), max: round(Math.max(...a)) },
    clusterPolicyCpuMicrosPerReview: {
      median: round(median(b)),
      min: round(Math.min(...b)),
      max: round(Math.max(...b)),
    },
    ivpToClusterPolicy: round(median(a) / median(b)),
    pairRatio: { median: round(median(pairRatios)), min: round(Math.min(...pairRatios)), max: round(Math.max(...pairRatios)) },
  };
}

async function startRegistry(): Promise<{ host: string; kind: string; stop(): Promise<void> }> {
  if (existsSync(DOCKER_REGISTRY_BIN)) {
    const root = mkdtempSync(join(tmpdir(), 'sigil-bench-registry-'));
    const r = await startDockerRegistryProcess({ root });
    return {
      host: r.host,
      kind: 'docker-registry (Debian, own process)',
      async stop() {
        await r.close();
        rmSync(root, { recursive: true, force: true });
      },
    };
  }
  const r = await createRegistryServer({ port: 0, logLevel: 'silent' });
  return { host: r.host, kind: 'sigil embedded registry (in this process)', stop: () => r.close() };
}

export async function runInProcess(): Promise<void> {
  const registry = await startRegistry();
  const stack = await startStack();
  try {
    const client = new RegistryClient();
    const { builder } = createSigning({
      key: { kind: 'keyless', caUrl: stack.ca.url, tokens: { token: await stack.oidc.mint(), env: {} } },
      logUrl: stack.log.url,
    });
    const pinned: Case[] = [];
    const tagged: Case[] = [];
    for (let i = 0; i < IMAGES; i++) {
      const tag = `${registry.host}/org/rs-bench-${i}:v1`;
      const digest = await pushImage(client, parseReference(tag), tinyImage(`bench image ${i}`));
      await signImage({ client, image: await resolveImage(client, parseReference(tag)), builder });
      pinned.push({ mode: 'validate', body: review(`uid-p-${i}`, `pinned-${i}`, `${tag}@${digest}`) });
      tagged.push({ mode: 'mutate', body: review(`uid-t-${i}`, `tag-${i}`, tag) });
    }
    const id = { issuer: stack.oidc.issuer, logUrl: stack.log.url };
    const root = parseTrustedRoot(stack.trustedRootJson);
    // Registry calls each engine makes (resolveDigest, fetchSignatures, fetchAttestations).
    const calls = { cp: 0, ivp: 0 };
    const engineFor = (yaml: string, counter: 'cp' | 'ivp'): AdmissionEngine => {
      const policies = parsePolicySources([{ source: 'bench.yaml', text: yaml }], { hasTrustedRoot: true });
      const real = registryImageSource(new RegistryClient());
      const source = new Proxy(real, {
        get(target, prop, receiver) {
          const v = Reflect.get(target, prop, receiver) as unknown;
          if (typeof v !== 'function' || prop === 'credentialKey') return v;
          return (...args: unknown[]) => {
            calls[counter]++;
            return (v as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
      const verifier = new SigstoreSignatureVerifier(root);
      const cache = new VerificationCache<RuleVerdict>();
      const verification = ivpVerificationFor(source, verifier, cache as VerificationCache<unknown>);
      return new AdmissionEngine({
        policies,
        source,
        verifier,
        cache,
        ...(verification ? { ivp: { verification } } : {}),
      });
    };
    const cpEngine = engineFor(seedClusterPolicy(`${registry.host}/org/rs-*`, id), 'cp');
    const ivpEngine = engineFor(seedIvp(`${registry.host}/org/rs-*`, id), 'ivp');
    const cp = reviewer(cpEngine, false);
    const ivp = reviewer(ivpEngine, false);
    // Warm every verification (and the JIT) before anything is measured.
    for (const c of [...pinned, ...tagged]) {
      if (!(await cp(c)) || !(await ivp(c))) throw new Error('a signed image was not admitted');
    }
    const result = {
      benchmark: 'admission --in-process',
      method:
        'process.cpuUsage() (user + system, all threads) over blocks of reviews alternating IVP / ClusterPolicy (ABBA), one process; median of per-block CPU per review',
      perReview:
        'JSON parse, AdmissionReview parse, AdmissionEngine.evaluate, decision-log line, response JSON (no TLS/HTTP)',
      rounds: ROUNDS,
      reviewsPerBlock: BLOCK,
      concurrency: CONCURRENCY,
      images: IMAGES,
      registry: registry.kind,
      ...(SCENARIOS.has('pinned') ? { warmPinnedValidate: await interleaved(ivp, cp, pinned, calls) } : {}),
      ...(SCENARIOS.has('tag') ? { warmTagMutate: await interleaved(ivp, cp, tagged, calls) } : {}),
      ...(SCENARIOS.has('engine')
        ? {
            engineOnlyWarmPinnedValidate: await interleaved(
              reviewer(ivpEngine, true),
              reviewer(cpEngine, true),
              pinned,
              calls,
            ),
          }
        : {}),
      goal: 'IVP CPU per warm review <= 1.2x the ClusterPolicy (issue 19)',
      machine: {
        cpus: availableParallelism(),
        model: cpus()[0]?.model ?? 'unknown',
        node: process.version,
        loadAverage1m: round(loadavg()[0]!),
      },
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await stack.close();
    await registry.stop();
  }
}
