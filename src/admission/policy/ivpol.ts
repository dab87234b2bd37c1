import { sha256Hex } from '../../crypto/index.js';
import { parseIvpolAttestors, type ParseContext } from './attestors.js';
import { parseRegistryCredentials } from './credentials.js';
import {
  type Doc,
  invalid,
  objectAt,
  optArray,
  optBool,
  optObject,
  optString,
  optStringList,
} from './fields.js';
import { compileImagePattern } from './image-pattern.js';
import { refuseSet, refuseUnknown } from './known-fields.js';
import { failurePolicy, metadataOf, REFUSED } from './kyverno.js';
import { parseMatchConstraints } from './match-constraints.js';
import { POLICY_LIMITS, type FailureAction, type ImagePolicy, type Wildcard } from './types.js';

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

/**
 * What an IVPOL may hold that sigil does not evaluate: CEL (`validations`, `matchConditions`,
 * `variables`, `images`), evaluation modes. `validations` in particular decides
 * which attestors must pass; read without it, any one attestor would admit.
 */
function checkIvpolSpec(spec: Doc, sp: string): void {
  refuseUnknown(spec, sp, IVPOL_SPEC_FIELDS);
  refuseSet(
    spec,
    'validations',
    sp,
    `${REFUSED}: CEL validations are not evaluated yet, and without them any one attestor would admit`,
  );
  for (const key of ['matchConditions', 'variables', 'images'])
    refuseSet(spec, key, sp, `${REFUSED}: CEL expressions`);
  refuseSet(spec, 'autogen', sp, `${REFUSED}: Pod rules always cover every pod controller`);
  const webhook = optObject(spec, 'webhookConfiguration', sp);
  if (webhook) refuseUnknown(webhook, `${sp}.webhookConfiguration`, ['timeoutSeconds']);
  const ev = optObject(spec, 'evaluation', sp);
  if (ev) {
    const ep = `${sp}.evaluation`;
    refuseUnknown(ev, ep, ['mode', 'admission', 'background']);
    const mode = optString(ev, 'mode', ep, 32);
    if (mode !== undefined && mode !== 'Kubernetes')
      throw invalid(`${ep}.mode`, `${REFUSED}: only Kubernetes`);
    const adm = optObject(ev, 'admission', ep);
    if (adm) {
      refuseUnknown(adm, `${ep}.admission`, ['enabled']);
      if (optBool(adm, 'enabled', `${ep}.admission`) === false)
        throw invalid(
          `${ep}.admission.enabled`,
          'false switches the policy off for admission; remove the policy instead',
        );
    }
  }
}

/** `policies.kyverno.io` ImageValidatingPolicy / NamespacedImageValidatingPolicy → ImagePolicy with one rule. */
export function parseImageValidatingPolicy(doc: Doc, source: string, ctx: ParseContext): ImagePolicy {
  const kind = doc.kind as 'ImageValidatingPolicy' | 'NamespacedImageValidatingPolicy';
  const { name, namespace } = metadataOf(doc, `${source}: ${kind}`);
  const where = `${source}: ${kind} ${name}`;
  const sp = `${where}: spec`;
  refuseUnknown(doc, where, ['apiVersion', 'kind', 'metadata', 'spec', 'status']);
  const spec = objectAt(doc.spec, sp);
  checkIvpolSpec(spec, sp);
  const actions = optStringList(spec, 'validationActions', sp, 3) ?? ['Deny'];
  for (const a of actions)
    if (!['Deny', 'Warn', 'Audit'].includes(a))
      throw invalid(`${sp}.validationActions`, `unknown action "${a}"`);
  if (actions.includes('Deny') && actions.includes('Warn'))
    throw invalid(`${sp}.validationActions`, 'Deny and Warn cannot be used together');
  const action: FailureAction = actions.includes('Deny') ? 'Enforce' : 'Audit';
  const refs: Wildcard[] = [];
  (optArray(spec, 'matchImageReferences', sp, POLICY_LIMITS.maxPatterns) ?? []).forEach((raw, i) => {
    const mp = `${sp}.matchImageReferences[${i}]`;
    const m = objectAt(raw, mp);
    refuseUnknown(m, mp, ['glob', 'expression']);
    if (m.expression !== undefined)
      throw invalid(`${mp}.expression`, 'CEL expressions are not supported; use glob');
    const glob = optString(m, 'glob', mp, POLICY_LIMITS.maxPatternLength);
    if (!glob) throw invalid(mp, 'glob is required');
    refs.push(compileImagePattern(glob, `${mp}.glob`));
  });
  if (refs.length === 0)
    throw invalid(`${sp}.matchImageReferences`, 'at least one image reference is required');
  if (optArray(spec, 'attestations', sp, 50)?.length) {
    throw invalid(
      `${sp}.attestations`,
      'attestation checks are not supported yet (refused rather than skipped)',
    );
  }
  const cfg = optObject(spec, 'validationConfigurations', sp) ?? {};
  const cp = `${sp}.validationConfigurations`;
  refuseUnknown(cfg, cp, ['mutateDigest', 'verifyDigest', 'required']);
  const mutateDigest = optBool(cfg, 'mutateDigest', cp) ?? true;
  const fp = failurePolicy(optString(spec, 'failurePolicy', sp), `${sp}.failurePolicy`);
  // Kyverno: only these secrets, in its namespace or namespace/name; not the pod's imagePullSecrets.
  const creds = optObject(spec, 'credentials', sp);
  return {
    kind,
    name,
    ...(kind === 'NamespacedImageValidatingPolicy' ? { namespace: namespace ?? 'default' } : {}),
    id: `${kind}/${namespace ?? ''}/${name}@${sha256Hex(Buffer.from(JSON.stringify(doc))).slice(0, 16)}`,
    ...(fp ? { failurePolicy: fp } : {}),
    rules: [
      {
        name,
        id: 'spec',
        match: parseMatchConstraints(spec, sp),
        imageReferences: refs,
        skipImageReferences: [],
        failureAction: action,
        attestorSets: [
          parseIvpolAttestors(
            optArray(spec, 'attestors', sp, POLICY_LIMITS.maxEntries) ?? [],
            `${sp}.attestors`,
            ctx,
          ),
        ],
        mutateDigest,
        verifyDigest: optBool(cfg, 'verifyDigest', cp) ?? true,
        required: optBool(cfg, 'required', cp) ?? true,
        useCache: true,
        ...(creds ? { registryCredentials: parseRegistryCredentials(creds, `${sp}.credentials`) } : {}),
      },
    ],
    source,
  };
}
