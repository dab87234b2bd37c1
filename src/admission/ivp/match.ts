import {
  type Doc,
  invalid,
  objectAt,
  optArray,
  optObject,
  optString,
  optStringList,
} from '../policy/fields.js';
import type { LabelSelector, MatchConstraints, ResourceRule, SelectorRequirement, Variant } from './types.js';

/** The request fields matchConstraints read. */
export interface RequestTarget {
  group: string;
  version: string;
  resource: string;
  subResource: string;
  operation: string;
  name: string;
  namespace: string;
  objectLabels: Record<string, string>;
  namespaceLabels?: Record<string, string>;
}

const OPERATIONS = new Set(['CREATE', 'UPDATE', 'DELETE', 'CONNECT', '*']);

function parseRule(raw: unknown, p: string): ResourceRule {
  const o = objectAt(raw, p);
  const operations = optStringList(o, 'operations', p, 5) ?? [];
  for (const op of operations)
    if (!OPERATIONS.has(op)) throw invalid(`${p}.operations`, `unknown operation "${op}"`);
  const scope = optString(o, 'scope', p);
  if (scope !== undefined && !['*', 'Cluster', 'Namespaced'].includes(scope))
    throw invalid(`${p}.scope`, `unknown scope "${scope}"`);
  return {
    operations,
    apiGroups: optStringList(o, 'apiGroups', p, 50) ?? [],
    apiVersions: optStringList(o, 'apiVersions', p, 50) ?? [],
    resources: optStringList(o, 'resources', p, 100) ?? [],
    resourceNames: optStringList(o, 'resourceNames', p, 100) ?? [],
  };
}

function parseSelector(d: Doc | undefined, p: string): LabelSelector | undefined {
  if (!d) return undefined;
  const matchLabels: Record<string, string> = {};
  for (const [k, v] of Object.entries(optObject(d, 'matchLabels', p) ?? {})) {
    if (typeof v !== 'string') throw invalid(`${p}.matchLabels.${k}`, 'must be a string');
    matchLabels[k] = v;
  }
  const matchExpressions = (optArray(d, 'matchExpressions', p, 50) ?? []).map(
    (raw, i): SelectorRequirement => {
      const ep = `${p}.matchExpressions[${i}]`;
      const e = objectAt(raw, ep);
      const key = optString(e, 'key', ep, 317);
      const operator = optString(e, 'operator', ep);
      if (!key) throw invalid(`${ep}.key`, 'is required');
      if (operator !== 'In' && operator !== 'NotIn' && operator !== 'Exists' && operator !== 'DoesNotExist')
        throw invalid(`${ep}.operator`, `unknown operator "${String(operator)}"`);
      const values = optStringList(e, 'values', ep, 100) ?? [];
      if ((operator === 'In' || operator === 'NotIn') && values.length === 0)
        throw invalid(`${ep}.values`, 'must be non-empty for In and NotIn');
      if ((operator === 'Exists' || operator === 'DoesNotExist') && values.length > 0)
        throw invalid(`${ep}.values`, 'must be empty for Exists and DoesNotExist');
      return { key, operator, values };
    },
  );
  return { matchLabels, matchExpressions };
}

export function parseMatchConstraints(spec: Doc, sp: string): MatchConstraints {
  const p = `${sp}.matchConstraints`;
  const mc = optObject(spec, 'matchConstraints', sp);
  if (!mc) throw invalid(p, 'is required');
  if (mc.matchPolicy !== undefined && mc.matchPolicy !== 'Equivalent' && mc.matchPolicy !== 'Exact')
    throw invalid(`${p}.matchPolicy`, 'must be Equivalent or Exact');
  const resourceRules = (optArray(mc, 'resourceRules', p, 100) ?? []).map((r, i) =>
    parseRule(r, `${p}.resourceRules[${i}]`),
  );
  if (resourceRules.length === 0)
    throw invalid(`${p}.resourceRules`, 'at least one resource rule is required');
  const ns = parseSelector(optObject(mc, 'namespaceSelector', p), `${p}.namespaceSelector`);
  // The API server evaluates it in the webhook configuration Kyverno generates; an AdmissionReview
  // carries no namespace labels, and guessing them would apply a policy too narrowly (fail open).
  if (ns && (Object.keys(ns.matchLabels).length > 0 || ns.matchExpressions.length > 0))
    throw invalid(
      `${p}.namespaceSelector`,
      'is not supported: AdmissionReviews carry no namespace labels (scope the webhook configuration, or use a NamespacedImageValidatingPolicy)',
    );
  const obj = parseSelector(optObject(mc, 'objectSelector', p), `${p}.objectSelector`);
  return {
    resourceRules,
    excludeResourceRules: (optArray(mc, 'excludeResourceRules', p, 100) ?? []).map((r, i) =>
      parseRule(r, `${p}.excludeResourceRules[${i}]`),
    ),
    ...(ns ? { namespaceSelector: ns } : {}),
    ...(obj ? { objectSelector: obj } : {}),
  };
}

function has(list: readonly string[], v: string): boolean {
  return list.includes('*') || list.includes(v);
}

/** Kubernetes' resource-rule matching: `pods` is not `pods/status`; `*` every resource; `*\/x` subresource x of any; `pods/*` any subresource of pods. */
function resourceMatches(resources: readonly string[], resource: string, sub: string): boolean {
  for (const r of resources) {
    if (r === '*/*') return true;
    const [res, subRule] = r.split('/', 2) as [string, string | undefined];
    if (subRule === undefined) {
      if (sub === '' && (res === '*' || res === resource)) return true;
    } else if ((res === '*' || res === resource) && (subRule === '*' || subRule === sub)) return true;
  }
  return false;
}

export function ruleMatches(r: ResourceRule, t: RequestTarget): boolean {
  return (
    has(r.operations, t.operation) &&
    has(r.apiGroups, t.group) &&
    has(r.apiVersions, t.version) &&
    resourceMatches(r.resources, t.resource, t.subResource) &&
    (r.resourceNames.length === 0 || r.resourceNames.includes(t.name))
  );
}

export function selectorMatches(s: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!s) return true;
  for (const [k, v] of Object.entries(s.matchLabels)) if (labels[k] !== v) return false;
  for (const e of s.matchExpressions) {
    const present = Object.prototype.hasOwnProperty.call(labels, e.key);
    const v = labels[e.key];
    if (e.operator === 'In' && !(present && e.values.includes(v!))) return false;
    if (e.operator === 'NotIn' && present && e.values.includes(v!)) return false;
    if (e.operator === 'Exists' && !present) return false;
    if (e.operator === 'DoesNotExist' && present) return false;
  }
  return true;
}

/** matchConstraints over a request; for a cluster-scoped object the namespaceSelector is not consulted. */
export function constraintsMatch(m: MatchConstraints, t: RequestTarget): boolean {
  if (!m.resourceRules.some((r) => ruleMatches(r, t))) return false;
  if (m.excludeResourceRules.some((r) => ruleMatches(r, t))) return false;
  if (t.namespace !== '' && !selectorMatches(m.namespaceSelector, t.namespaceLabels ?? {})) return false;
  return selectorMatches(m.objectSelector, t.objectLabels);
}

/** Kyverno's CanAutoGen: one rule on core v1 `pods`, no names, no object selector, no exclusions. */
export function canAutogen(m: MatchConstraints): boolean {
  const sel = m.objectSelector;
  if (sel && (Object.keys(sel.matchLabels).length > 0 || sel.matchExpressions.length > 0)) return false;
  if (m.excludeResourceRules.length > 0 || m.resourceRules.length !== 1) return false;
  const r = m.resourceRules[0]!;
  return (
    r.resourceNames.length === 0 &&
    r.apiGroups.length === 1 &&
    r.apiGroups[0] === '' &&
    r.apiVersions.length === 1 &&
    r.apiVersions[0] === 'v1' &&
    r.resources.length === 1 &&
    r.resources[0] === 'pods'
  );
}

export const AUTOGEN_TARGETS: Record<
  string,
  { group: string; resource: string; kind: string; variant: Variant }
> = {
  daemonsets: { group: 'apps', resource: 'daemonsets', kind: 'DaemonSet', variant: 'defaults' },
  deployments: { group: 'apps', resource: 'deployments', kind: 'Deployment', variant: 'defaults' },
  replicasets: { group: 'apps', resource: 'replicasets', kind: 'ReplicaSet', variant: 'defaults' },
  statefulsets: { group: 'apps', resource: 'statefulsets', kind: 'StatefulSet', variant: 'defaults' },
  jobs: { group: 'batch', resource: 'jobs', kind: 'Job', variant: 'defaults' },
  cronjobs: { group: 'batch', resource: 'cronjobs', kind: 'CronJob', variant: 'cronjobs' },
};

const PREFIX: Record<Exclude<Variant, 'pod'>, string> = {
  defaults: 'spec.template.',
  cronjobs: 'spec.jobTemplate.spec.template.',
};

/**
 * Kyverno's autogen text replacement: `object.spec` → `object.spec.template.spec` and
 * `object.metadata` → `object.spec.template.metadata` (likewise oldObject; cron jobs one level
 * deeper), except `object.metadata.namespace`, which stays the controller's.
 */
export function rewriteForAutogen(src: string, v: Exclude<Variant, 'pod'>): string {
  const to = PREFIX[v];
  return src.replace(
    /\b(object|oldObject)\.(spec|metadata)(\.namespace\b)?/g,
    (m, obj: string, field: string, ns?: string) => (ns ? m : `${obj}.${to}${field}${ns ?? ''}`),
  );
}
