import { SigilError } from '../errors/index.js';
import type { Decision } from './decision.js';
import { invalid, isObject, objectAt, optArray, optString, optStringList } from './policy/fields.js';

/**
 * Kyverno CLI test manifests (`kyverno-test.yaml`, `cli.kyverno.io/v1alpha1` Test): which
 * policies and resources to load, and the result expected for each policy / rule / resource.
 * Pure: the CLI reads the files and runs the engine; this parses and compares.
 */

export type TestResult = 'pass' | 'fail' | 'skip' | 'warn' | 'error';
const RESULTS: ReadonlySet<string> = new Set(['pass', 'fail', 'skip', 'warn', 'error']);

export interface ExpectedResult {
  policy: string;
  rule?: string;
  kind?: string;
  resources: string[];
  result: TestResult;
}

export interface TestManifest {
  name: string;
  policies: string[];
  resources: string[];
  results: ExpectedResult[];
}

const TEST_API = /^cli\.kyverno\.io\/v1(alpha1|beta1)?$/;

export function parseTestManifest(doc: unknown, source: string): TestManifest {
  const d = objectAt(doc, source);
  if (!TEST_API.test(String(d.apiVersion ?? '')) || d.kind !== 'Test')
    throw invalid(source, 'not a cli.kyverno.io Test manifest');
  for (const key of ['variables', 'userinfo', 'exceptions', 'context', 'checks', 'values'])
    if (d[key] !== undefined) throw invalid(`${source}: ${key}`, 'is not supported by sigil policy test');
  const meta = isObject(d.metadata) ? d.metadata : {};
  const name = typeof meta.name === 'string' ? meta.name : (optString(d, 'name', source) ?? source);
  const policies = optStringList(d, 'policies', source, 100) ?? [];
  const resources = optStringList(d, 'resources', source, 1000) ?? [];
  if (policies.length === 0) throw invalid(`${source}: policies`, 'at least one policy file is required');
  if (resources.length === 0) throw invalid(`${source}: resources`, 'at least one resource file is required');
  const results = (optArray(d, 'results', source, 10_000) ?? []).map((raw, i): ExpectedResult => {
    const p = `${source}: results[${i}]`;
    const r = objectAt(raw, p);
    const policy = optString(r, 'policy', p, 253);
    if (!policy) throw invalid(`${p}.policy`, 'is required');
    const result = optString(r, 'result', p) ?? optString(r, 'status', p);
    if (!result || !RESULTS.has(result))
      throw invalid(`${p}.result`, 'must be pass, fail, skip, warn or error');
    const list = optStringList(r, 'resources', p, 1000) ?? [];
    const single = optString(r, 'resource', p, 253);
    if (single) list.push(single);
    if (list.length === 0) throw invalid(`${p}.resources`, 'at least one resource is required');
    if (
      r.patchedResources !== undefined ||
      r.generatedResource !== undefined ||
      r.cloneSourceResource !== undefined
    )
      throw invalid(p, 'mutation and generation checks are not supported by sigil policy test');
    const rule = optString(r, 'rule', p, 253);
    const kind = optString(r, 'kind', p, 63);
    // Kyverno accepts `policy: <namespace>/<name>` for namespaced policies.
    return {
      policy: policy.includes('/') ? policy.slice(policy.lastIndexOf('/') + 1) : policy,
      ...(rule ? { rule } : {}),
      ...(kind ? { kind } : {}),
      resources: list,
      result: result as TestResult,
    };
  });
  if (results.length === 0) throw invalid(`${source}: results`, 'at least one expected result is required');
  return { name, policies, resources, results };
}

/** What one resource got, per policy and rule (IVPs use the policy name as the rule). */
export interface ActualResults {
  kind: string;
  name: string;
  namespace: string;
  /** `policy` → `rule` → result. */
  byPolicy: Map<string, Map<string, TestResult>>;
}

function worst(a: TestResult | undefined, b: TestResult): TestResult {
  const rank: Record<TestResult, number> = { skip: 0, pass: 1, warn: 2, fail: 3, error: 4 };
  return a === undefined || rank[b] > rank[a] ? b : a;
}

/** Kyverno CLI results from the final admission decision of one resource. */
export function actualResults(
  res: { kind: string; name: string; namespace: string },
  d: Decision,
): ActualResults {
  const byPolicy = new Map<string, Map<string, TestResult>>();
  const put = (policy: string, rule: string, r: TestResult): void => {
    const rules = byPolicy.get(policy) ?? new Map<string, TestResult>();
    byPolicy.set(policy, rules);
    rules.set(rule, worst(rules.get(rule), r));
  };
  for (const r of d.results) put(r.policy, r.rule, r.status);
  for (const r of d.ivpResults ?? []) {
    const warnOnly = !r.actions.has('Deny') && r.actions.has('Warn');
    put(r.policy, r.policy, r.status === 'fail' && warnOnly ? 'warn' : r.status);
  }
  return { ...res, byPolicy };
}

export interface Row {
  policy: string;
  rule: string;
  resource: string;
  expected: TestResult;
  actual: TestResult;
  ok: boolean;
}

function resourceMatches(spec: string, a: ActualResults): boolean {
  const parts = spec.split('/');
  if (parts.length === 1) return parts[0] === a.name;
  if (parts.length === 2) return parts[0] === a.namespace && parts[1] === a.name;
  return (
    parts[parts.length - 3] === a.kind &&
    parts[parts.length - 2] === a.namespace &&
    parts[parts.length - 1] === a.name
  );
}

/** Every expected (policy, rule, resource) against what happened; a resource never loaded is an error. */
export function compareResults(expected: readonly ExpectedResult[], actual: readonly ActualResults[]): Row[] {
  const rows: Row[] = [];
  for (const e of expected) {
    for (const spec of e.resources) {
      const matches = actual.filter((a) => resourceMatches(spec, a) && (!e.kind || a.kind === e.kind));
      if (matches.length === 0)
        throw new SigilError('INVALID_INPUT', `results: resource ${spec} is not among the test's resources`);
      for (const a of matches) {
        const rules = a.byPolicy.get(e.policy);
        let got: TestResult;
        if (!rules) got = 'skip';
        else if (e.rule !== undefined) got = rules.get(e.rule) ?? 'skip';
        else
          got =
            [...rules.values()].reduce<TestResult | undefined>((x, y) => worst(x, y), undefined) ?? 'skip';
        rows.push({
          policy: e.policy,
          rule: e.rule ?? e.policy,
          resource: spec,
          expected: e.result,
          actual: got,
          ok: got === e.result,
        });
      }
    }
  }
  return rows;
}
