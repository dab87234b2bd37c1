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
 * a profile: pinned,tag,engine), BENCH_IP_BASELINE (the root of another sigil checkout, e.g. the
 * commit before a change, with its node_modules: its IVP and ClusterPolicy are measured in the
 * same rounds, for a before/after from one run).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseReference, pushImage, RegistryClient, tinyImage } from '../src/oci/index.js';
import {
  createRegistryServer,
  DOCKER_REGISTRY_BIN,
  startDockerRegistryProcess,
} from '../src/demo/registry/index.js';
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
const BASELINE = process.env.BENCH_IP_BASELINE;
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

/** What a review needs from a sigil checkout (this one, or BENCH_IP_BASELINE's). */
interface Impl {
  parsePolicySources: typeof parsePolicySources;
  registryImageSource: typeof registryImageSource;
  RegistryClient: typeof RegistryClient;
  SigstoreSignatureVerifier: typeof SigstoreSignatureVerifier;
  VerificationCache: typeof VerificationCache;
  AdmissionEngine: typeof AdmissionEngine;
  ivpVerificationFor: typeof ivpVerificationFor;
  DecisionLog: typeof DecisionLog;
  parseAdmissionReview: typeof parseAdmissionReview;
  admissionResponse: typeof admissionResponse;
  parseJsonBounded: typeof parseJsonBounded;
  parseTrustedRoot: typeof parseTrustedRoot;
}

const THIS: Impl = {
  parsePolicySources,
  registryImageSource,
  RegistryClient,
  SigstoreSignatureVerifier,
  VerificationCache,
  AdmissionEngine,
  ivpVerificationFor,
  DecisionLog,
  parseAdmissionReview,
  admissionResponse,
  parseJsonBounded,
  parseTrustedRoot,
};

async function loadImpl(root: string): Promise<Impl> {
  const m = async (path: string): Promise<Record<string, unknown>> =>
    (await import(join(root, path))) as Record<string, unknown>;
  return {
    ...(await m('src/admission/index.ts')),
    ...(await m('src/admission/decision-log.ts')),
    ...(await m('src/admission/ivp/verifier.ts')),
    ...(await m('src/server/json-depth.ts')),
    ...(await m('src/bundle/index.ts')),
    RegistryClient: (await m('src/oci/index.ts')).RegistryClient,
  } as unknown as Impl;
}

/** The webhook's per-review work minus TLS/HTTP; `engineOnly` skips parse, log and response. */
function reviewer(impl: Impl, engine: AdmissionEngine, engineOnly: boolean): Review {
  const log = impl.DecisionLog.create('info', { write: () => undefined })!;
  let seq = 0;
  const parsedOnce = new Map<string, ReturnType<typeof parseAdmissionReview>>();
  return async ({ mode, body }) => {
    if (engineOnly) {
      let p = parsedOnce.get(body);
      if (!p) parsedOnce.set(body, (p = impl.parseAdmissionReview(JSON.parse(body))));
      const d = await engine.evaluate(p.input, mode);
      return d.allowed;
    }
    const started = performance.now();
    const parsed = impl.parseAdmissionReview(impl.parseJsonBounded(body));
    const d = await engine.evaluate(parsed.input, mode);
    const ms = Math.round((performance.now() - started) * 10) / 10;
    log.write({
      endpoint: mode,
      reqId: ++seq,
      uid: parsed.uid,
      input: parsed.input,
      outcome: 'allowed',
      ms,
      decision: d,
    });
    JSON.stringify(impl.admissionResponse(parsed.uid, d));
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

interface Contender {
  name: string;
  review: Review;
  /** Registry calls made so far by its engine. */
  calls: () => number;
}

const spread = (xs: number[]) => ({
  median: round(median(xs)),
  min: round(Math.min(...xs)),
  max: round(Math.max(...xs)),
});

/**
 * One block of each contender per round, the order reversed every other round (A B C D, D C B A,
 * …), after two unmeasured rounds; per contender the median CPU per review, and each IVP's
 * ratio to the ClusterPolicy of its own checkout (of medians, and the median of per-round ratios).
 */
async function interleaved(contenders: readonly Contender[], cases: readonly Case[]) {
  for (let i = 0; i < 2; i++) for (const c of contenders) await block(c.review, cases, BLOCK);
  const before = contenders.map((c) => c.calls());
  const per = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? contenders : [...contenders].reverse();
    for (const c of order) per.get(c.name)!.push(await block(c.review, cases, BLOCK));
  }
  const reviews = ROUNDS * BLOCK;
  const out: Record<string, unknown> = {
    cpuMicrosPerReview: Object.fromEntries([...per].map(([n, xs]) => [n, spread(xs)])),
    registryCallsPerReview: Object.fromEntries(
      contenders.map((c, i) => [c.name, round((c.calls() - before[i]!) / reviews)]),
    ),
  };
  for (const prefix of ['', 'baseline']) {
    const ivp = per.get(prefix ? `${prefix}Ivp` : 'ivp');
    const cp = per.get(prefix ? `${prefix}ClusterPolicy` : 'clusterPolicy');
    if (!ivp || !cp) continue;
    out[prefix ? `${prefix}IvpToClusterPolicy` : 'ivpToClusterPolicy'] = {
      ofMedians: round(median(ivp) / median(cp)),
      perRound: spread(ivp.map((x, i) => x / cp[i]!)),
    };
  }
  return out;
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
    const cpYaml = seedClusterPolicy(`${registry.host}/org/rs-*`, id);
    const ivpYaml = seedIvp(`${registry.host}/org/rs-*`, id);
    const engineFor = (impl: Impl, yaml: string, counter: { n: number }): AdmissionEngine => {
      const policies = impl.parsePolicySources([{ source: 'bench.yaml', text: yaml }], {
        hasTrustedRoot: true,
      });
      const real = impl.registryImageSource(new impl.RegistryClient());
      // Counts the registry calls (resolveDigest, fetchSignatures, fetchAttestations).
      const source = new Proxy(real, {
        get(target, prop, receiver) {
          const v = Reflect.get(target, prop, receiver) as unknown;
          if (typeof v !== 'function' || prop === 'credentialKey') return v;
          return (...args: unknown[]) => {
            counter.n++;
            return (v as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
      const verifier = new impl.SigstoreSignatureVerifier(impl.parseTrustedRoot(stack.trustedRootJson));
      const cache = new impl.VerificationCache<RuleVerdict>();
      const verification = impl.ivpVerificationFor(source, verifier, cache as VerificationCache<unknown>);
      return new impl.AdmissionEngine({
        policies,
        source,
        verifier,
        cache,
        ...(verification ? { ivp: { verification } } : {}),
      });
    };
    const impls: [string, Impl][] = [['', THIS]];
    if (BASELINE) impls.push(['baseline', await loadImpl(BASELINE)]);
    const contenders = (engineOnly: boolean): Contender[] =>
      impls.flatMap(([prefix, impl]) =>
        (
          [
            ['Ivp', ivpYaml],
            ['ClusterPolicy', cpYaml],
          ] as const
        ).map(([what, yaml]) => {
          const counter = { n: 0 };
          const engine = engineFor(impl, yaml, counter);
          return {
            name: prefix ? `${prefix}${what}` : what[0]!.toLowerCase() + what.slice(1),
            review: reviewer(impl, engine, engineOnly),
            calls: () => counter.n,
          };
        }),
      );
    const warm = async (list: Contender[]): Promise<Contender[]> => {
      // Every verification cached (and the JIT warm) before anything is measured.
      for (const c of [...pinned, ...tagged])
        for (const x of list)
          if (!(await x.review(c))) throw new Error(`${x.name}: a signed image was refused`);
      return list;
    };
    const full = await warm(contenders(false));
    const engineOnly = SCENARIOS.has('engine') ? await warm(contenders(true)) : [];
    const result = {
      benchmark: 'admission --in-process',
      method:
        'process.cpuUsage() (user + system, all threads) over blocks of reviews, one block per contender per round, order reversed every other round, one process; median of per-block CPU per review',
      perReview:
        'JSON parse, AdmissionReview parse, AdmissionEngine.evaluate, decision-log line, response JSON (no TLS/HTTP)',
      rounds: ROUNDS,
      reviewsPerBlock: BLOCK,
      concurrency: CONCURRENCY,
      images: IMAGES,
      registry: registry.kind,
      ...(BASELINE ? { baseline: BASELINE } : {}),
      ...(SCENARIOS.has('pinned') ? { warmPinnedValidate: await interleaved(full, pinned) } : {}),
      ...(SCENARIOS.has('tag') ? { warmTagMutate: await interleaved(full, tagged) } : {}),
      ...(SCENARIOS.has('engine')
        ? { engineOnlyWarmPinnedValidate: await interleaved(engineOnly, pinned) }
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
