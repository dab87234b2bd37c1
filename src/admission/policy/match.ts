import { type Doc, invalid, isObject, objectAt, optArray, optObject, optStringList } from './fields.js';
import { type ResourceKind, type ResourceMatch, type Wildcard } from './types.js';
import { compileWildcard } from './wildcard.js';

export const POD_CONTROLLERS: readonly ResourceKind[] = [
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'ReplicaSet',
  'ReplicationController',
  'Job',
  'CronJob',
];
export const ALL_KINDS: readonly ResourceKind[] = ['Pod', ...POD_CONTROLLERS];
const KNOWN = new Set<string>(ALL_KINDS);

/** `Pod`, `v1/Pod`, `apps/v1/Deployment`, `Pod/ephemeralcontainers` → the kind, if one we handle. */
function kindOf(s: string): ResourceKind | '*' | undefined {
  if (s === '*') return '*';
  const k = s
    .split('/')
    .filter((p) => /^[A-Z*]/.test(p))
    .pop();
  if (k === '*') return '*';
  return k && KNOWN.has(k) ? (k as ResourceKind) : undefined;
}

interface Filters {
  kinds: Set<ResourceKind>;
  namespaces: Wildcard[];
  sawKinds: boolean;
}

function collect(block: Doc | undefined, path: string, out: Filters): void {
  if (!block) return;
  const resourceBlocks: [Doc, string][] = [];
  const direct = optObject(block, 'resources', path);
  if (direct) resourceBlocks.push([direct, `${path}.resources`]);
  for (const key of ['any', 'all']) {
    const list = optArray(block, key, path, 100) ?? [];
    list.forEach((f, i) => {
      const fp = `${path}.${key}[${i}]`;
      const r = optObject(objectAt(f, fp), 'resources', fp);
      if (r) resourceBlocks.push([r, `${fp}.resources`]);
    });
  }
  for (const [r, rp] of resourceBlocks) {
    const kinds = optStringList(r, 'kinds', rp, 100);
    if (kinds) out.sawKinds = true;
    for (const k of kinds ?? []) {
      const kind = kindOf(k);
      if (kind === '*') ALL_KINDS.forEach((x) => out.kinds.add(x));
      else if (kind) out.kinds.add(kind);
    }
    for (const ns of optStringList(r, 'namespaces', rp, 200) ?? [])
      out.namespaces.push(compileWildcard(ns, `${rp}.namespaces`));
  }
}

/**
 * The resource part of a Kyverno rule's `match`/`exclude`: kinds and namespaces (other filters —
 * names, selectors, subjects — are not evaluated). A rule on Pods is expanded to the pod
 * controllers like Kyverno's autogen, unless `pod-policies.kyverno.io/autogen-controllers` says
 * otherwise. No `match` at all means every kind we know.
 */
export function parseResourceMatch(rule: Doc, path: string, autogen: string | undefined): ResourceMatch {
  const inc: Filters = { kinds: new Set(), namespaces: [], sawKinds: false };
  const exc: Filters = { kinds: new Set(), namespaces: [], sawKinds: false };
  const match = rule.match;
  if (match !== undefined && !isObject(match)) throw invalid(`${path}.match`, 'must be an object');
  collect(match as Doc | undefined, `${path}.match`, inc);
  collect(optObject(rule, 'exclude', path), `${path}.exclude`, exc);
  if (!inc.sawKinds) ALL_KINDS.forEach((k) => inc.kinds.add(k));
  if (inc.kinds.has('Pod') && autogen !== 'none') {
    const controllers =
      autogen === undefined
        ? POD_CONTROLLERS
        : autogen
            .split(',')
            .map((s) => s.trim())
            .filter((s): s is ResourceKind => KNOWN.has(s));
    controllers.forEach((k) => inc.kinds.add(k));
  }
  return {
    kinds: inc.kinds,
    namespaces: inc.namespaces,
    excludeNamespaces: exc.namespaces,
    excludeKinds: exc.kinds,
  };
}

/** IVPOL/VAP `matchConstraints.resourceRules[].resources` (plural lower-case names). */
export function parseMatchConstraints(spec: Doc, path: string): ResourceMatch {
  const mc = optObject(spec, 'matchConstraints', path);
  const kinds = new Set<ResourceKind>();
  const byResource: Record<string, ResourceKind> = {
    pods: 'Pod',
    deployments: 'Deployment',
    statefulsets: 'StatefulSet',
    daemonsets: 'DaemonSet',
    replicasets: 'ReplicaSet',
    replicationcontrollers: 'ReplicationController',
    jobs: 'Job',
    cronjobs: 'CronJob',
  };
  let saw = false;
  for (const [i, rr] of (mc
    ? (optArray(mc, 'resourceRules', `${path}.matchConstraints`, 100) ?? [])
    : []
  ).entries()) {
    const rp = `${path}.matchConstraints.resourceRules[${i}]`;
    for (const r of optStringList(objectAt(rr, rp), 'resources', rp, 100) ?? []) {
      saw = true;
      if (r === '*') ALL_KINDS.forEach((k) => kinds.add(k));
      const k = byResource[r.split('/')[0] ?? ''];
      if (k) kinds.add(k);
    }
  }
  if (!saw) ALL_KINDS.forEach((k) => kinds.add(k));
  // IVPOL autogen: pod rules also cover the controllers unless autogen is switched off.
  if (kinds.has('Pod')) POD_CONTROLLERS.forEach((k) => kinds.add(k));
  return { kinds, namespaces: [], excludeNamespaces: [], excludeKinds: new Set() };
}
