import { invalid } from '../policy/fields.js';
import { KIND_GROUP_VERSION, POD_CONTROLLERS } from '../policy/match.js';
import type {
  AttestorEntry,
  ImageRule,
  KindSelector,
  LabelSelector,
  ResourceFilter,
  ResourceKind,
  ResourceMatch,
  Wildcard,
} from '../policy/types.js';
import type { CompiledIvp, MatchConstraints } from './types.js';

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
const ONLY_WITH_VALIDATIONS = 'is evaluated only in a policy with validations (CEL); add validations';

function kindsOf(r: string, groups: string[], versions: string[], path: string): KindSelector[] {
  const [res = '', sub = ''] = r.split('/');
  if (sub !== '' && sub !== '*' && sub !== 'ephemeralcontainers')
    throw invalid(path, `subresource ${sub} ${ONLY_WITH_VALIDATIONS}`);
  const kinds = res === '*' ? Object.values(BY_RESOURCE) : BY_RESOURCE[res] ? [BY_RESOURCE[res]!] : [];
  const usable = kinds.filter((k) => {
    const [g, v] = KIND_GROUP_VERSION[k];
    return (groups.includes('*') || groups.includes(g)) && (versions.includes('*') || versions.includes(v));
  });
  if (usable.length === 0)
    throw invalid(
      path,
      `"${r}" in apiGroups ${JSON.stringify(groups)} / apiVersions ${JSON.stringify(versions)} names none of the resources sigil verifies (${Object.keys(BY_RESOURCE).join(', ')}; plural, lower-case)`,
    );
  return usable.map((kind) => ({ group: '*', version: '*', kind, subresource: sub }));
}

/** matchConstraints as the ClusterPolicy matcher's filters: one per resource rule, OR'ed; pods cover their controllers. */
function asResourceMatch(m: MatchConstraints, mp: string): ResourceMatch {
  if (m.excludeResourceRules.length > 0) throw invalid(`${mp}.excludeResourceRules`, ONLY_WITH_VALIDATIONS);
  const os = m.objectSelector;
  // Label values cannot hold `*` or `?`, so the wildcard matcher compares them exactly.
  const selector: LabelSelector | undefined =
    os && (Object.keys(os.matchLabels).length > 0 || os.matchExpressions.length > 0)
      ? { matchLabels: Object.entries(os.matchLabels), matchExpressions: os.matchExpressions }
      : undefined;
  const filters = m.resourceRules.map((rr, i): ResourceFilter => {
    const rp = `${mp}.resourceRules[${i}]`;
    if (rr.resourceNames.length > 0) throw invalid(`${rp}.resourceNames`, ONLY_WITH_VALIDATIONS);
    const kinds = rr.resources.flatMap((r, j) =>
      kindsOf(r, rr.apiGroups, rr.apiVersions, `${rp}.resources[${j}]`),
    );
    if (kinds.some((k) => k.kind === 'Pod'))
      for (const c of POD_CONTROLLERS)
        if (!kinds.some((k) => k.kind === c))
          kinds.push({ group: '*', version: '*', kind: c, subresource: '' });
    return {
      kinds,
      ...(rr.operations.includes('*') ? {} : { operations: rr.operations }),
      ...(selector ? { selector } : {}),
    };
  });
  return { match: { mode: 'any', filters } };
}

/**
 * An ImageValidatingPolicy without `validations` (the subset sigil read before the CEL engine):
 * one ClusterPolicy-style rule in which any one attestor admits each matched image. What only
 * CEL evaluates is refused here, naming the field.
 */
export function ivpAsRule(ivp: CompiledIvp, sp: string, autogenSet: boolean): ImageRule {
  const pod = ivp.programs.pod;
  const cel: [string, number][] = [
    ['matchConditions', pod.matchConditions.length],
    ['variables', pod.variables.length],
    ['images', pod.images.length],
    ['attestations', ivp.attestations.size],
  ];
  for (const [field, n] of cel) if (n > 0) throw invalid(`${sp}.${field}`, ONLY_WITH_VALIDATIONS);
  if (autogenSet)
    throw invalid(`${sp}.autogen`, `${ONLY_WITH_VALIDATIONS}: Pod rules always cover every pod controller`);
  if (ivp.mode !== 'Kubernetes') throw invalid(`${sp}.evaluation.mode`, ONLY_WITH_VALIDATIONS);
  if (!ivp.admission)
    throw invalid(
      `${sp}.evaluation.admission.enabled`,
      'false switches the policy off for admission; remove the policy instead',
    );
  // The rule matches images in their canonical spelling (docker.io/library/nginx:1), so the glob
  // goes in with its canonical spellings too: `nginx*` or `index.docker.io/x/*` as written would
  // match no canonical image, and an unmatched image is never verified.
  const refs: Wildcard[] = ivp.matchImageReferences.flatMap((m, i) => {
    if (!('glob' in m))
      throw invalid(
        `${sp}.matchImageReferences[${i}].expression`,
        `CEL expressions are not supported without validations; use glob`,
      );
    return [{ pattern: m.glob.pattern }, ...m.glob.canonical];
  });
  if (refs.length === 0)
    throw invalid(`${sp}.matchImageReferences`, 'at least one image reference is required');
  if (ivp.attestors.size === 0) throw invalid(`${sp}.attestors`, 'at least one attestor is required');
  const entries: AttestorEntry[] = [...ivp.attestors.values()].map((a, index) => {
    if (a.source) throw invalid(`${sp}.attestors[${index}].cosign.source`, ONLY_WITH_VALIDATIONS);
    if (a.attestor.tuf) throw invalid(`${sp}.attestors[${index}].cosign.tuf`, ONLY_WITH_VALIDATIONS);
    return { index, attestor: a.attestor };
  });
  return {
    name: ivp.name,
    id: 'spec',
    match: asResourceMatch(ivp.match!, `${sp}.matchConstraints`),
    imageReferences: refs,
    skipImageReferences: [],
    failureAction: ivp.actions.has('Deny') ? 'Enforce' : 'Audit',
    attestorSets: [{ count: 1, entries }],
    mutateDigest: ivp.mutateDigest,
    verifyDigest: ivp.verifyDigest,
    required: ivp.required,
    useCache: true,
    // Kyverno: only these secrets, in its namespace or namespace/name; not the pod's imagePullSecrets.
    ...(ivp.registryCredentials ? { registryCredentials: ivp.registryCredentials } : {}),
  };
}
