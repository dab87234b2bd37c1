import { type Doc, invalid, isObject, objectAt, optArray, optObject } from '../policy/fields.js';
import { refuseSet, refuseUnknown } from '../policy/known-fields.js';

/** Every field of ImageValidatingPolicySpec (kyverno/api policies.kyverno.io/v1beta1, v1). */
export const IVPOL_SPEC_FIELDS = [
  'matchConstraints',
  'matchConditions',
  'variables',
  'auditAnnotations',
  'failurePolicy',
  'validationActions',
  'webhookConfiguration',
  'evaluation',
  'autogen',
  'matchImageReferences',
  'images',
  'attestors',
  'attestations',
  'validationConfigurations',
  'credentials',
  'validations',
];

const NOT_EVALUATED = 'is not evaluated by sigil (refused rather than ignored)';
// What sigil extracts images from when the policy declares no `images` extractors.
const POD_RESOURCES = [
  'pods',
  'deployments',
  'statefulsets',
  'daemonsets',
  'replicasets',
  'replicationcontrollers',
  'jobs',
  'cronjobs',
];

function each(d: Doc, key: string, p: string, known: readonly string[], max = 200): Doc[] {
  return (optArray(d, key, p, max) ?? []).map((raw, i) => {
    const o = objectAt(raw, `${p}.${key}[${i}]`);
    refuseUnknown(o, `${p}.${key}[${i}]`, known);
    return o;
  });
}

/** Resource names as Kubernetes spells them (plural, lower-case): anything else would match nothing. */
function checkResources(rr: Doc, rp: string, withExtractors: boolean): void {
  (optArray(rr, 'resources', rp, 100) ?? []).forEach((r, j) => {
    const p = `${rp}.resources[${j}]`;
    const [res = '', sub] = String(r).split('/', 2);
    const okName = (s: string) => s === '*' || /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(s);
    if (typeof r !== 'string' || !okName(res) || (sub !== undefined && !okName(sub)))
      throw invalid(p, `"${String(r)}" is not a resource name (plural, lower-case: pods, deployments…)`);
    if (!withExtractors && res !== '*' && !POD_RESOURCES.includes(res))
      throw invalid(
        p,
        `"${r}" names none of the resources sigil reads images from (${POD_RESOURCES.join(', ')}); declare spec.images extractors for other resources`,
      );
  });
  for (const key of ['apiGroups', 'apiVersions', 'resources', 'operations'])
    if (!(optArray(rr, key, rp, 100) ?? []).length) throw invalid(`${rp}.${key}`, 'is required');
}

/**
 * Issue 14's fail-closed rule for the CEL ImageValidatingPolicy: every field the ivp/ engine does
 * not evaluate is refused at load naming it (unknown fields included), never silently dropped.
 */
export function refuseUnevaluatedIvp(doc: Doc, spec: Doc, where: string, sp: string): void {
  refuseUnknown(doc, where, ['apiVersion', 'kind', 'metadata', 'spec', 'status']);
  refuseUnknown(spec, sp, IVPOL_SPEC_FIELDS);
  each(spec, 'validations', sp, ['expression', 'message', 'messageExpression', 'reason']);
  for (const key of ['matchConditions', 'variables', 'images']) each(spec, key, sp, ['name', 'expression']);
  each(spec, 'auditAnnotations', sp, ['key', 'valueExpression']);
  each(spec, 'matchImageReferences', sp, ['glob', 'expression']);
  each(spec, 'attestations', sp, ['name', 'intoto', 'referrer']).forEach((a, i) => {
    const it = optObject(a, 'intoto', `${sp}.attestations[${i}]`);
    if (it) refuseUnknown(it, `${sp}.attestations[${i}].intoto`, ['type']);
  });
  const cfg = optObject(spec, 'validationConfigurations', sp);
  if (cfg) refuseUnknown(cfg, `${sp}.validationConfigurations`, ['mutateDigest', 'verifyDigest', 'required']);
  const webhook = optObject(spec, 'webhookConfiguration', sp);
  if (webhook) refuseUnknown(webhook, `${sp}.webhookConfiguration`, ['timeoutSeconds']);
  const ev = optObject(spec, 'evaluation', sp);
  if (ev) {
    refuseUnknown(ev, `${sp}.evaluation`, ['mode', 'admission', 'background']);
    const adm = optObject(ev, 'admission', `${sp}.evaluation`);
    if (adm) refuseUnknown(adm, `${sp}.evaluation.admission`, ['enabled']);
  }
  const ag = optObject(spec, 'autogen', sp);
  if (ag) {
    refuseUnknown(ag, `${sp}.autogen`, ['podControllers']);
    const pc = optObject(ag, 'podControllers', `${sp}.autogen`);
    if (pc) refuseUnknown(pc, `${sp}.autogen.podControllers`, ['controllers']);
  }
  const cr = optObject(spec, 'credentials', sp);
  if (cr) {
    refuseUnknown(cr, `${sp}.credentials`, ['allowInsecureRegistry', 'providers', 'secrets']);
    refuseSet(
      cr,
      'allowInsecureRegistry',
      `${sp}.credentials`,
      `${NOT_EVALUATED}: sigil uses its own registry settings`,
    );
  }
  const mc = optObject(spec, 'matchConstraints', sp);
  if (mc) {
    const mp = `${sp}.matchConstraints`;
    refuseUnknown(mc, mp, [
      'resourceRules',
      'excludeResourceRules',
      'namespaceSelector',
      'objectSelector',
      'matchPolicy',
    ]);
    const rules = ['apiGroups', 'apiVersions', 'resources', 'operations', 'scope', 'resourceNames'];
    const extractors = (optArray(spec, 'images', sp, 200) ?? []).length > 0;
    each(mc, 'resourceRules', mp, rules, 100).forEach((rr, i) =>
      checkResources(rr, `${mp}.resourceRules[${i}]`, extractors),
    );
    each(mc, 'excludeResourceRules', mp, rules, 100).forEach((rr, i) =>
      checkResources(rr, `${mp}.excludeResourceRules[${i}]`, true),
    );
    for (const key of ['namespaceSelector', 'objectSelector']) {
      const sel = mc[key];
      if (isObject(sel)) refuseUnknown(sel, `${mp}.${key}`, ['matchLabels', 'matchExpressions']);
    }
  }
}
