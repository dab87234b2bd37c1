import { type Doc, invalid, objectAt, optArray, optObject, optString, optStringList } from './fields.js';
import { refuseSet, refuseUnknown } from './known-fields.js';
import { KIND_GROUP_VERSION, POD_CONTROLLERS, parseLabelSelector } from './match.js';
import type { KindSelector, ResourceFilter, ResourceKind, ResourceMatch } from './types.js';

const BY_RESOURCE: Record<string, ResourceKind> = {
  pods: 'Pod',
  deployments: 'Deployment',
  statefulsets: 'StatefulSet',
  daemonsets: 'DaemonSet',
  replicasets: 'ReplicaSet',
  replicationcontrollers: 'ReplicationController',
  jobs: 'Job',
  cronjobs: 'CronJob',
};
const OPS = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT', '*'];
const NOT_EVALUATED = 'is not evaluated by sigil (refused rather than ignored)';

function resourceKinds(r: string, groups: string[], versions: string[], path: string): KindSelector[] {
  const [res = '', sub = ''] = r.split('/');
  if (sub !== '' && sub !== '*' && sub !== 'ephemeralcontainers')
    throw invalid(path, `subresource ${sub} ${NOT_EVALUATED}`);
  const kinds: ResourceKind[] =
    res === '*'
      ? (Object.values(BY_RESOURCE) as ResourceKind[])
      : BY_RESOURCE[res]
        ? [BY_RESOURCE[res]!]
        : [];
  const usable = kinds.filter((k) => {
    const [g, v] = KIND_GROUP_VERSION[k];
    return (groups.includes('*') || groups.includes(g)) && (versions.includes('*') || versions.includes(v));
  });
  if (usable.length === 0) {
    throw invalid(
      path,
      `"${r}" in apiGroups ${JSON.stringify(groups)} / apiVersions ${JSON.stringify(versions)} names none of the resources sigil verifies (${Object.keys(BY_RESOURCE).join(', ')}; plural, lower-case)`,
    );
  }
  return usable.map((kind) => ({ group: '*', version: '*', kind, subresource: sub }));
}

/**
 * IVPOL `matchConstraints` (admissionregistration MatchResources): each resourceRule is one
 * filter (resources × operations), OR'ed; objectSelector applies to every rule. What sigil cannot
 * evaluate (namespaceSelector, excludeResourceRules, resourceNames) refuses the policy.
 */
export function parseMatchConstraints(spec: Doc, path: string): ResourceMatch {
  const mp = `${path}.matchConstraints`;
  const mc = optObject(spec, 'matchConstraints', path);
  if (!mc) throw invalid(mp, 'is required (resourceRules naming the resources to check)');
  refuseUnknown(mc, mp, [
    'resourceRules',
    'excludeResourceRules',
    'namespaceSelector',
    'objectSelector',
    'matchPolicy',
  ]);
  refuseSet(mc, 'namespaceSelector', mp, `${NOT_EVALUATED}: the AdmissionReview carries no namespace labels`);
  refuseSet(mc, 'excludeResourceRules', mp, NOT_EVALUATED);
  const policy = optString(mc, 'matchPolicy', mp, 16);
  if (policy !== undefined && policy !== 'Equivalent' && policy !== 'Exact')
    throw invalid(`${mp}.matchPolicy`, 'must be Equivalent or Exact');
  const os = optObject(mc, 'objectSelector', mp);
  const selector =
    os && Object.keys(os).length > 0 ? parseLabelSelector(os, `${mp}.objectSelector`) : undefined;
  const rules = optArray(mc, 'resourceRules', mp, 100) ?? [];
  if (rules.length === 0) throw invalid(`${mp}.resourceRules`, 'at least one rule is required');
  const filters: ResourceFilter[] = rules.map((raw, i) => {
    const rp = `${mp}.resourceRules[${i}]`;
    const rr = objectAt(raw, rp);
    refuseUnknown(rr, rp, ['apiGroups', 'apiVersions', 'resources', 'operations', 'scope', 'resourceNames']);
    refuseSet(rr, 'resourceNames', rp, NOT_EVALUATED);
    const groups = optStringList(rr, 'apiGroups', rp, 50) ?? [];
    const versions = optStringList(rr, 'apiVersions', rp, 50) ?? [];
    const resources = optStringList(rr, 'resources', rp, 100) ?? [];
    const ops = optStringList(rr, 'operations', rp, 5) ?? [];
    for (const [key, list] of [
      ['apiGroups', groups],
      ['apiVersions', versions],
      ['resources', resources],
      ['operations', ops],
    ] as const)
      if (list.length === 0) throw invalid(`${rp}.${key}`, 'is required');
    for (const op of ops)
      if (!OPS.includes(op)) throw invalid(`${rp}.operations`, `unknown operation ${JSON.stringify(op)}`);
    const kinds = resources.flatMap((r, j) => resourceKinds(r, groups, versions, `${rp}.resources[${j}]`));
    // IVPOL autogen: a Pod rule also covers the pod controllers.
    if (kinds.some((k) => k.kind === 'Pod'))
      for (const c of POD_CONTROLLERS)
        if (!kinds.some((k) => k.kind === c))
          kinds.push({ group: '*', version: '*', kind: c, subresource: '' });
    return {
      kinds,
      ...(ops.includes('*') ? {} : { operations: ops }),
      ...(selector ? { selector } : {}),
    };
  });
  return { match: { mode: 'any', filters } };
}
