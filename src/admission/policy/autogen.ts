import { isObject, type Doc } from './fields.js';
import { splitKindSelector } from './match.js';
import type { FilterBlock, KindSelector, ResourceFilter, ResourceKind, ResourceMatch } from './types.js';

/**
 * Kyverno's autogen (pkg/autogen/v1): a rule on Pods also yields `autogen-<rule>` for the pod
 * controllers and `autogen-cronjob-<rule>` for CronJobs, with the kinds of the filters that name
 * Pod rewritten. Without the `pod-policies.kyverno.io/autogen-controllers` annotation it applies
 * only when no rule of the policy filters by name, selector or annotations, or mixes Pod with
 * other kinds (CanAutoGen); `none` switches it off; a list names the controllers.
 */
const DEFAULT_CONTROLLERS: readonly ResourceKind[] = [
  'DaemonSet',
  'Deployment',
  'Job',
  'StatefulSet',
  'ReplicaSet',
  'ReplicationController',
  'CronJob',
];
const NON_CRON = new Set<string>(DEFAULT_CONTROLLERS.filter((k) => k !== 'CronJob'));
const POD_AND_CONTROLLERS = new Set<string>(['Pod', ...DEFAULT_CONTROLLERS]);

/** The kind part of a kind selector, subresource stripped (kube.ContainsKind). */
function kindName(s: string): string {
  return splitKindSelector(s)?.kind ?? s;
}

function rawDescriptions(block: unknown): Doc[] {
  if (!isObject(block)) return [];
  const out: Doc[] = [];
  if (isObject(block.resources)) out.push(block.resources);
  for (const key of ['any', 'all']) {
    const list = block[key];
    if (Array.isArray(list))
      for (const f of list) if (isObject(f) && isObject(f.resources)) out.push(f.resources);
  }
  return out;
}

/** CanAutoGen over every rule of the policy (not only the verifyImages ones), on the raw documents. */
function canAutoGen(rules: readonly unknown[]): boolean {
  let needed = false;
  for (const rule of rules) {
    if (!isObject(rule)) continue;
    if (rule.generate !== undefined && rule.generate !== null) return false;
    const m = rule.mutate;
    if (isObject(m)) {
      if (m.patchesJson6902) return false;
      if (Array.isArray(m.foreach) && m.foreach.some((f) => isObject(f) && f.patchesJson6902)) return false;
    }
    for (const d of [...rawDescriptions(rule.match), ...rawDescriptions(rule.exclude)]) {
      const kinds = Array.isArray(d.kinds) ? d.kinds.filter((k): k is string => typeof k === 'string') : [];
      if (d.name || (Array.isArray(d.names) && d.names.length > 0) || d.selector || d.annotations)
        return false;
      if (kinds.length > 1 && kinds.some((k) => kindName(k) === 'Pod')) return false;
      if (kinds.some((k) => POD_AND_CONTROLLERS.has(kindName(k)))) needed = true;
    }
  }
  return needed;
}

/** The controllers the policy's Pod rules are generated for. */
export function autogenControllers(
  annotation: string | undefined,
  rules: readonly unknown[],
): ResourceKind[] {
  if (annotation === undefined) return canAutoGen(rules) ? [...DEFAULT_CONTROLLERS] : [];
  if (annotation === 'none') return [];
  const list = annotation.split(',').map((s) => s.trim());
  if (list.includes('all')) return [...DEFAULT_CONTROLLERS];
  return DEFAULT_CONTROLLERS.filter((k) => list.includes(k));
}

const sel = (kind: string): KindSelector => ({ group: '*', version: '*', kind, subresource: '' });
const hasPod = (f: ResourceFilter): boolean => (f.kinds ?? []).some((k) => k.kind === 'Pod');
const blockKinds = (b: FilterBlock | undefined): KindSelector[] =>
  (b?.filters ?? []).flatMap((f) => f.kinds ?? []);

function rewrite(
  b: FilterBlock,
  kinds: KindSelector[],
  onlyPodFilters: boolean,
  isExclude: boolean,
): FilterBlock {
  if (b.mode === 'one') {
    const f = b.filters[0]!;
    if (isExclude && !f.kinds) return b;
    return { mode: 'one', filters: [{ ...f, kinds }] };
  }
  return {
    mode: b.mode,
    filters: b.filters.map((f) => (onlyPodFilters && !hasPod(f) ? f : { ...f, kinds })),
  };
}

/** The autogen variants of one rule's match (name suffix, match), in Kyverno's order. */
export function autogenMatches(
  m: ResourceMatch,
  controllers: readonly ResourceKind[],
): [string, ResourceMatch][] {
  if (controllers.length === 0) return [];
  const matchKinds = blockKinds(m.match);
  const excludeKinds = blockKinds(m.exclude);
  if (!matchKinds.some((k) => k.kind === 'Pod')) return [];
  if (excludeKinds.length > 0 && !excludeKinds.some((k) => k.kind === 'Pod')) return [];
  const out: [string, ResourceMatch][] = [];
  const nonCron = controllers.filter((k) => NON_CRON.has(k));
  // generateRuleForControllers: Pod filters get the (non-CronJob) controllers.
  const base = (kinds: readonly string[]): ResourceMatch => ({
    match: rewrite(m.match, kinds.map(sel), true, false),
    ...(m.exclude ? { exclude: rewrite(m.exclude, kinds.map(sel), true, true) } : {}),
  });
  if (nonCron.length > 0) out.push(['autogen-', base(nonCron)]);
  if (controllers.includes('CronJob')) {
    // generateCronJobRule: the controllers rule, then every filter's kinds → CronJob.
    const first = base(nonCron.length > 0 ? nonCron : ['CronJob']);
    out.push([
      'autogen-cronjob-',
      {
        match: rewrite(first.match, [sel('CronJob')], false, false),
        ...(first.exclude ? { exclude: rewrite(first.exclude, [sel('CronJob')], false, true) } : {}),
      },
    ]);
  }
  return out;
}
