import { readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import {
  actualResults,
  compareResults,
  parseTestManifest,
  type ActualResults,
  type TestManifest,
} from '../admission/kyverno-test.js';
import { AdmissionEngine, applyJsonPatch, type Decision } from '../admission/index.js';
import { ivpVerificationFor } from '../admission/ivp/verifier.js';
import type { ImageSource, SignatureVerifier } from '../admission/verifier.js';
import type { ImagePolicy } from '../admission/policy/types.js';
import { isSigilError } from '../errors/index.js';
import { ImageReference } from '../oci/index.js';
import { createRegistryServer, type RegistryServer } from '../demo/registry/index.js';
import { readTextFlag } from './flags.js';
import { CliError } from './output.js';
import { cliIo } from './io.js';

const MAX_FILE_BYTES = 4 * 1024 * 1024;
const MAX_MANIFESTS = 500;

/** `kyverno-test.yaml` files: the path itself, or found under a directory (like `kyverno test DIR`). */
export function findTestManifests(paths: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (p: string, depth: number): void => {
    if (depth > 8 || out.length > MAX_MANIFESTS) return;
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new CliError(`cannot read ${p}`);
    }
    if (!st.isDirectory()) {
      out.push(p);
      return;
    }
    for (const name of readdirSync(p).sort()) {
      const child = join(p, name);
      if (name === 'kyverno-test.yaml' || name === 'kyverno-test.yml') out.push(child);
      else if (statSync(child).isDirectory() && name !== 'node_modules') walk(child, depth + 1);
    }
  };
  for (const p of paths) walk(p, 0);
  if (out.length === 0) throw new CliError(`no kyverno-test.yaml found in ${paths.join(', ')}`);
  return out;
}

function yamlDocs(path: string): unknown[] {
  const out: unknown[] = [];
  for (const d of parseAllDocuments(readTextFlag(path, '', MAX_FILE_BYTES))) {
    if (d.errors.length > 0) throw new CliError(`${path}: not valid YAML: ${d.errors[0]?.message ?? ''}`);
    const v: unknown = d.toJS({ maxAliasCount: 50 });
    if (v !== null && v !== undefined) out.push(v);
  }
  return out;
}

export function readManifest(path: string): TestManifest {
  const docs = yamlDocs(path);
  if (docs.length !== 1) throw new CliError(`${path}: a test manifest is one YAML document`);
  try {
    return parseTestManifest(docs[0], path);
  } catch (e) {
    if (isSigilError(e)) throw new CliError(e.message);
    throw e;
  }
}

/** Resource files of a manifest (relative to it) → Kubernetes objects. */
export function manifestResources(path: string, m: TestManifest): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const r of m.resources) {
    for (const v of yamlDocs(resolve(dirname(path), r))) {
      if (
        typeof v !== 'object' ||
        v === null ||
        Array.isArray(v) ||
        typeof (v as { kind?: unknown }).kind !== 'string'
      )
        throw new CliError(`${r}: every document must be a Kubernetes object with a kind`);
      out.push(v as Record<string, unknown>);
    }
  }
  return out;
}

/**
 * `--registry-dir DIR`: images and their signatures saved in a sigil registry data directory,
 * served from loopback for the run; every registry host named by a resource maps to it, so a
 * suite runs offline.
 */
export async function savedRegistry(dir: string): Promise<RegistryServer> {
  try {
    statSync(join(dir, 'repositories'));
  } catch {
    throw new CliError(`${dir} holds no saved registry (no repositories/ folder)`);
  }
  return createRegistryServer({ dataDir: dir, host: '127.0.0.1', port: 0, logLevel: 'silent' });
}

export function redirected<S extends ImageSource>(source: S, host: string): S {
  const to = (r: ImageReference): ImageReference => new ImageReference(host, r.repository, r.tag, r.digest);
  const wrapped: Record<string, unknown> = {};
  for (const [k, fn] of Object.entries(source) as [string, unknown][]) {
    wrapped[k] =
      typeof fn === 'function'
        ? (ref: unknown, ...rest: unknown[]) =>
            (fn as (...a: unknown[]) => unknown).call(
              source,
              ref instanceof ImageReference ? to(ref) : ref,
              ...rest,
            )
        : fn;
  }
  return wrapped as S;
}

/** Mutating pass, patch applied, validating pass: the decision `kyverno test` would report. */
export async function decideResource(
  engine: AdmissionEngine,
  object: Record<string, unknown>,
  namespace: string,
): Promise<{ decision: Decision; id: { kind: string; name: string; namespace: string } }> {
  const meta = (object.metadata ?? {}) as Record<string, unknown>;
  const input = {
    kind: object.kind as string,
    namespace: typeof meta.namespace === 'string' ? meta.namespace : namespace,
    name: typeof meta.name === 'string' ? meta.name : '',
    operation: 'CREATE',
    object,
  };
  const id = { kind: input.kind, name: input.name, namespace: input.namespace };
  try {
    const mutate = await engine.evaluate(input, 'mutate');
    if (!mutate.allowed) return { decision: mutate, id };
    return {
      decision: await engine.evaluate({ ...input, object: applyJsonPatch(object, mutate.patch) }, 'validate'),
      id,
    };
  } catch (e) {
    if (isSigilError(e, 'INVALID_INPUT')) throw new CliError(`${input.kind}/${input.name}: ${e.message}`);
    throw e;
  }
}

export interface SuiteOutcome {
  manifest: string;
  rows: ReturnType<typeof compareResults>;
}

/** Runs one manifest with an engine built by `makeEngine` from its policy files. */
export async function runManifest(
  path: string,
  makeEngine: (policyFiles: string[]) => AdmissionEngine,
  namespace: string,
): Promise<SuiteOutcome> {
  const m = readManifest(path);
  const engine = makeEngine(m.policies.map((p) => resolve(dirname(path), p)));
  const actual: ActualResults[] = [];
  for (const object of manifestResources(path, m)) {
    const { decision, id } = await decideResource(engine, object, namespace);
    actual.push(actualResults(id, decision));
  }
  try {
    return { manifest: path, rows: compareResults(m.results, actual) };
  } catch (e) {
    if (isSigilError(e)) throw new CliError(`${path}: ${e.message}`);
    throw e;
  }
}

/** An engine deciding ClusterPolicies and ImageValidatingPolicies alike (no namespace excluded: a test decides what it is given). */
export function testEngine(parts: {
  policies: readonly ImagePolicy[];
  timeoutMs: number;
  source: ImageSource;
  verifier: SignatureVerifier;
}): AdmissionEngine {
  const verification = ivpVerificationFor(parts.source, parts.verifier);
  return new AdmissionEngine({
    ...parts,
    excludedNamespaces: [],
    ...(verification ? { ivp: { verification } } : {}),
  });
}

export interface KyvernoTestOptions {
  namespace: string;
  registryDir?: string;
  /** The engine's parts for a manifest's policy files, set up as `--policy` would. */
  setUp(policyFiles: string[]): Promise<{
    policies: ImagePolicy[];
    timeoutMs: number;
    source: ImageSource;
    verifier: SignatureVerifier;
  }>;
}

/**
 * `sigil policy test [DIR|kyverno-test.yaml ...]`: Kyverno CLI test manifests, each with its own
 * policies and resources, every expected result compared; exit 1 when any differs.
 */
export async function runKyvernoTests(paths: string[], o: KyvernoTestOptions): Promise<void> {
  const saved = o.registryDir ? await savedRegistry(o.registryDir) : undefined;
  let failed = 0;
  let passed = 0;
  try {
    for (const manifest of findTestManifests(paths)) {
      const files = readManifest(manifest).policies.map((p) => resolve(dirname(manifest), p));
      const { policies, timeoutMs, source: live, verifier } = await o.setUp(files);
      const source = saved ? redirected(live, saved.host) : live;
      const engine = testEngine({ policies, timeoutMs, source, verifier });
      const { rows } = await runManifest(manifest, () => engine, o.namespace);
      cliIo().stdout.write(`Test ${manifest}\n`);
      rows.forEach((r, i) => {
        const verdict = r.ok ? 'Pass  Ok' : `Fail  Want ${r.expected}, got ${r.actual}`;
        cliIo().stdout.write(`  ${i + 1}  ${r.policy}  ${r.rule}  ${r.resource}  ${verdict}\n`);
        if (r.ok) passed++;
        else failed++;
      });
    }
  } finally {
    await saved?.close();
  }
  cliIo().stdout.write(`Test Summary: ${passed} tests passed and ${failed} tests failed\n`);
  if (failed > 0) process.exitCode = 1;
}
