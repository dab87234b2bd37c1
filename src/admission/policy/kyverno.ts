import { sha256Hex } from '../../crypto/index.js';
import { parseAttestorSets, type ParseContext } from './attestors.js';
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
import { autogenControllers, autogenMatches } from './autogen.js';
import { parseRegistryCredentials } from './credentials.js';
import { compileImagePattern } from './image-pattern.js';
import { refuseSet, refuseUnknown } from './known-fields.js';
import { parseResourceMatch } from './match.js';
import {
  POLICY_LIMITS,
  type AttestorSet,
  type FailureAction,
  type FailurePolicy,
  type ImagePolicy,
  type ImageRule,
  type ResourceMatch,
  type Wildcard,
} from './types.js';

const NAME_RE = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export function failureAction(v: string | undefined, path: string): FailureAction | undefined {
  if (v === undefined) return undefined;
  const lower = v.toLowerCase();
  if (lower === 'enforce') return 'Enforce';
  if (lower === 'audit') return 'Audit';
  throw invalid(path, `unknown failure action "${v}" (expected Enforce or Audit)`);
}

export function failurePolicy(v: string | undefined, path: string): FailurePolicy | undefined {
  if (v === undefined) return undefined;
  if (v === 'Fail' || v === 'Ignore') return v;
  throw invalid(path, `unknown failure policy "${v}" (expected Fail or Ignore)`);
}

function patterns(d: Doc, key: string, path: string): Wildcard[] {
  return (optStringList(d, key, path, POLICY_LIMITS.maxPatterns) ?? []).map((p, i) =>
    compileImagePattern(p, `${path}.${key}[${i}]`),
  );
}

export function metadataOf(doc: Doc, where: string): { name: string; namespace?: string; annotations: Doc } {
  const meta = objectAt(doc.metadata, `${where}: metadata`);
  const name = optString(meta, 'name', `${where}: metadata`, 253);
  if (!name || !NAME_RE.test(name)) throw invalid(`${where}: metadata.name`, 'a DNS-1123 name is required');
  const namespace = optString(meta, 'namespace', `${where}: metadata`, 63);
  return {
    name,
    ...(namespace ? { namespace } : {}),
    annotations: optObject(meta, 'annotations', `${where}: metadata`) ?? {},
  };
}

const SPEC_FIELDS = [
  'rules',
  'failurePolicy',
  'validationFailureAction',
  'validationFailureActionOverrides',
  'webhookConfiguration',
  'webhookTimeoutSeconds',
  'applyRules',
  'admission',
  'background',
  'schemaValidation',
  'emitWarning',
  'mutateExistingOnPolicyUpdate',
  'generateExisting',
  'generateExistingOnPolicyUpdate',
  'useServerSideApply',
];
const RULE_FIELDS = [
  'name',
  'match',
  'exclude',
  'verifyImages',
  'context',
  'preconditions',
  'celPreconditions',
  'imageExtractors',
  'mutate',
  'validate',
  'generate',
  'skipBackgroundRequests',
  'reportProperties',
];
const VERIFY_FIELDS = [
  'type',
  'imageReferences',
  'skipImageReferences',
  'failureAction',
  'attestors',
  'attestations',
  'repository',
  'cosignOCI11',
  'mutateDigest',
  'verifyDigest',
  'required',
  'useCache',
  'imageRegistryCredentials',
  'validate',
  'image',
  'key',
  'roots',
  'subject',
  'issuer',
  'additionalExtensions',
  'annotations',
];
export const REFUSED = 'is not evaluated by sigil (refused rather than ignored)';

/** Spec-level fields that would change which requests a policy sees or how it decides. */
function checkSpec(spec: Doc, sp: string): void {
  refuseUnknown(spec, sp, SPEC_FIELDS);
  refuseSet(spec, 'validationFailureActionOverrides', sp, `${REFUSED}: per-namespace actions`);
  const apply = optString(spec, 'applyRules', sp, 8);
  if (apply !== undefined && apply !== 'All')
    throw invalid(`${sp}.applyRules`, `${REFUSED}: only All (every matching rule applies)`);
  if (optBool(spec, 'admission', sp) === false)
    throw invalid(
      `${sp}.admission`,
      'false switches the policy off for admission; remove the policy instead',
    );
  const webhook = optObject(spec, 'webhookConfiguration', sp);
  if (webhook) {
    const wp = `${sp}.webhookConfiguration`;
    refuseUnknown(webhook, wp, ['failurePolicy', 'timeoutSeconds', 'matchConditions']);
    refuseSet(webhook, 'matchConditions', wp, `${REFUSED}: CEL match conditions`);
  }
}

/** Kyverno `kyverno.io/v1` (or v2beta1) ClusterPolicy / Policy → ImagePolicy. Only verifyImages rules are accepted. */
export function parseKyvernoPolicy(doc: Doc, source: string, ctx: ParseContext): ImagePolicy {
  const kind = doc.kind as 'ClusterPolicy' | 'Policy';
  const { name, namespace, annotations } = metadataOf(doc, `${source}: ${kind}`);
  const where = `${source}: ${kind} ${name}`;
  refuseUnknown(doc, where, ['apiVersion', 'kind', 'metadata', 'spec', 'status']);
  const spec = objectAt(doc.spec, `${where}: spec`);
  const sp = `${where}: spec`;
  checkSpec(spec, sp);
  const legacyAction = failureAction(
    optString(spec, 'validationFailureAction', sp),
    `${sp}.validationFailureAction`,
  );
  const webhook = optObject(spec, 'webhookConfiguration', sp);
  const fp =
    failurePolicy(
      webhook && optString(webhook, 'failurePolicy', `${sp}.webhookConfiguration`),
      `${sp}.webhookConfiguration.failurePolicy`,
    ) ?? failurePolicy(optString(spec, 'failurePolicy', sp), `${sp}.failurePolicy`);
  const autogenRaw = annotations['pod-policies.kyverno.io/autogen-controllers'];
  const rawRules = optArray(spec, 'rules', sp, POLICY_LIMITS.maxRulesPerPolicy) ?? [];
  const controllers = autogenControllers(typeof autogenRaw === 'string' ? autogenRaw : undefined, rawRules);
  const rules: ImageRule[] = [];
  const ruleNames = new Set<string>();
  rawRules.forEach((raw, i) => {
    const rp = `${sp}.rules[${i}]`;
    const ruleName = optString(objectAt(raw, rp), 'name', rp, 63);
    if (!ruleName) throw invalid(`${rp}.name`, 'a rule name is required');
    if (ruleNames.has(ruleName)) throw invalid(`${rp}.name`, `duplicate rule name "${ruleName}"`);
    ruleNames.add(ruleName);
  });
  rawRules.forEach((raw, i) => {
    const rp = `${sp}.rules[${i}]`;
    const rule = objectAt(raw, rp);
    const ruleName = optString(rule, 'name', rp, 63) ?? '';
    refuseUnknown(rule, rp, RULE_FIELDS);
    for (const key of ['mutate', 'validate', 'generate'])
      refuseSet(rule, key, rp, `${REFUSED}: sigil evaluates verifyImages rules only`);
    for (const key of ['context', 'preconditions', 'celPreconditions', 'imageExtractors'])
      refuseSet(rule, key, rp, REFUSED);
    const verifyImages = optArray(rule, 'verifyImages', rp, 50);
    if (!verifyImages || verifyImages.length === 0)
      throw invalid(`${rp}.verifyImages`, 'is required (sigil evaluates verifyImages rules only)');
    const match = parseResourceMatch(rule, rp);
    const variants: [string, string, ResourceMatch][] = [
      [ruleName, '', match],
      ...autogenMatches(match, controllers).map(([prefix, m]): [string, string, ResourceMatch] => [
        `${prefix}${ruleName}`.slice(0, 63),
        `/${prefix}`,
        m,
      ]),
    ];
    verifyImages.forEach((vraw, j) => {
      const vp = `${rp}.verifyImages[${j}]`;
      const entry = parseVerifyImage(objectAt(vraw, vp), vp, legacyAction, ctx);
      for (const [vname, suffix, m] of variants)
        rules.push({ name: vname, id: `rules[${i}].verifyImages[${j}]${suffix}`, match: m, ...entry });
    });
  });
  return {
    kind,
    name,
    ...(kind === 'Policy' ? { namespace: namespace ?? 'default' } : {}),
    id: `${kind}/${namespace ?? ''}/${name}@${sha256Hex(Buffer.from(JSON.stringify(doc))).slice(0, 16)}`,
    ...(fp ? { failurePolicy: fp } : {}),
    rules,
    source,
  };
}

function parseVerifyImage(
  v: Doc,
  vp: string,
  legacyAction: FailureAction | undefined,
  ctx: ParseContext,
): Omit<ImageRule, 'name' | 'id' | 'match'> {
  refuseUnknown(v, vp, VERIFY_FIELDS);
  const type = optString(v, 'type', vp) ?? 'Cosign';
  if (type !== 'Cosign' && type !== 'SigstoreBundle')
    throw invalid(`${vp}.type`, `type ${type} is not supported (only Cosign and SigstoreBundle)`);
  if (optArray(v, 'attestations', vp, 50)?.length) {
    throw invalid(
      `${vp}.attestations`,
      'attestation checks are not supported yet (refused rather than skipped)',
    );
  }
  refuseSet(v, 'repository', vp, 'alternate signature repositories are not supported yet');
  if (optBool(v, 'cosignOCI11', vp)) throw invalid(`${vp}.cosignOCI11`, REFUSED);
  const creds = optObject(v, 'imageRegistryCredentials', vp);
  refuseSet(v, 'validate', vp, `${REFUSED}: JMESPath deny conditions`);
  refuseSet(v, 'annotations', vp, 'signature annotations are not supported yet');
  const refs = patterns(v, 'imageReferences', vp);
  const legacyImage = optString(v, 'image', vp, POLICY_LIMITS.maxPatternLength);
  if (legacyImage) refs.push(compileImagePattern(legacyImage, `${vp}.image`));
  if (refs.length === 0) throw invalid(`${vp}.imageReferences`, 'An image reference is required');
  const action =
    failureAction(optString(v, 'failureAction', vp), `${vp}.failureAction`) ?? legacyAction ?? 'Audit';
  const attestorSets: AttestorSet[] = parseAttestorSets(
    optArray(v, 'attestors', vp, 50) ?? [],
    `${vp}.attestors`,
    ctx,
  );
  attestorSets.push(...legacyAttestors(v, vp, ctx));
  if (attestorSets.length === 0) throw invalid(`${vp}.attestors`, 'at least one attestor is required');
  const mutateDigest = optBool(v, 'mutateDigest', vp) ?? true;
  if (mutateDigest && action === 'Audit') {
    throw invalid(`${vp}.mutateDigest`, "mutateDigest must be set to false for 'Audit' failure action");
  }
  return {
    imageReferences: refs,
    skipImageReferences: patterns(v, 'skipImageReferences', vp),
    failureAction: action,
    attestorSets,
    mutateDigest,
    verifyDigest: optBool(v, 'verifyDigest', vp) ?? true,
    required: optBool(v, 'required', vp) ?? true,
    useCache: optBool(v, 'useCache', vp) ?? true,
    ...(creds
      ? { registryCredentials: parseRegistryCredentials(creds, `${vp}.imageRegistryCredentials`) }
      : {}),
    podPullSecrets: true,
    ...(type === 'SigstoreBundle' ? { bundlesOnly: true } : {}),
  };
}

/** Kyverno's deprecated top-level `key` / `subject` / `issuer` / `roots`, converted like its Convert(). */
function legacyAttestors(v: Doc, vp: string, ctx: ParseContext): AttestorSet[] {
  const key = optString(v, 'key', vp, POLICY_LIMITS.maxPemBytes);
  const subject = optString(v, 'subject', vp, 4096);
  const issuer = optString(v, 'issuer', vp, 4096);
  const roots = optString(v, 'roots', vp, POLICY_LIMITS.maxPemBytes);
  const entries: Doc[] = [];
  if (key) entries.push({ keys: { publicKeys: key } });
  if (subject || issuer || roots) {
    entries.push({
      keyless: {
        subject,
        issuer,
        roots,
        additionalExtensions: v.additionalExtensions,
      },
    });
  }
  return entries.length === 0 ? [] : parseAttestorSets([{ entries }], `${vp}(deprecated fields)`, ctx);
}
