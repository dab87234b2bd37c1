import { sha256Hex } from '../../crypto/index.js';
import { parseAttestorSets, parseIvpolAttestors, type ParseContext } from './attestors.js';
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
import { parseMatchConstraints, parseResourceMatch } from './match.js';
import {
  POLICY_LIMITS,
  type AttestorSet,
  type FailureAction,
  type FailurePolicy,
  type ImagePolicy,
  type ImageRule,
} from './types.js';
import { compileWildcard } from './wildcard.js';

const NAME_RE = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

function failureAction(v: string | undefined, path: string): FailureAction | undefined {
  if (v === undefined) return undefined;
  const lower = v.toLowerCase();
  if (lower === 'enforce') return 'Enforce';
  if (lower === 'audit') return 'Audit';
  throw invalid(path, `unknown failure action "${v}" (expected Enforce or Audit)`);
}

function failurePolicy(v: string | undefined, path: string): FailurePolicy | undefined {
  if (v === undefined) return undefined;
  if (v === 'Fail' || v === 'Ignore') return v;
  throw invalid(path, `unknown failure policy "${v}" (expected Fail or Ignore)`);
}

function patterns(d: Doc, key: string, path: string): ReturnType<typeof compileWildcard>[] {
  return (optStringList(d, key, path, POLICY_LIMITS.maxPatterns) ?? []).map((p, i) =>
    compileWildcard(p, `${path}.${key}[${i}]`),
  );
}

function metadataOf(doc: Doc, where: string): { name: string; namespace?: string; annotations: Doc } {
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

/** Kyverno `kyverno.io/v1` (or v2beta1) ClusterPolicy / Policy → ImagePolicy. Rules without verifyImages are ignored. */
export function parseKyvernoPolicy(doc: Doc, source: string, ctx: ParseContext): ImagePolicy {
  const kind = doc.kind as 'ClusterPolicy' | 'Policy';
  const { name, namespace, annotations } = metadataOf(doc, `${source}: ${kind}`);
  const where = `${source}: ${kind} ${name}`;
  const spec = objectAt(doc.spec, `${where}: spec`);
  const sp = `${where}: spec`;
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
  const autogen = typeof autogenRaw === 'string' ? autogenRaw : undefined;

  const rawRules = optArray(spec, 'rules', sp, POLICY_LIMITS.maxRulesPerPolicy) ?? [];
  const rules: ImageRule[] = [];
  const ruleNames = new Set<string>();
  rawRules.forEach((raw, i) => {
    const rp = `${sp}.rules[${i}]`;
    const rule = objectAt(raw, rp);
    const ruleName = optString(rule, 'name', rp, 63);
    if (!ruleName) throw invalid(`${rp}.name`, 'a rule name is required');
    if (ruleNames.has(ruleName)) throw invalid(`${rp}.name`, `duplicate rule name "${ruleName}"`);
    ruleNames.add(ruleName);
    const verifyImages = optArray(rule, 'verifyImages', rp, 50);
    if (!verifyImages) return;
    const match = parseResourceMatch(rule, rp, autogen);
    verifyImages.forEach((vraw, j) => {
      const vp = `${rp}.verifyImages[${j}]`;
      const v = objectAt(vraw, vp);
      const type = optString(v, 'type', vp) ?? 'Cosign';
      if (type !== 'Cosign') throw invalid(`${vp}.type`, `type ${type} is not supported (only Cosign)`);
      if (optArray(v, 'attestations', vp, 50)?.length) {
        throw invalid(
          `${vp}.attestations`,
          'attestation checks are not supported yet (refused rather than skipped)',
        );
      }
      const refs = patterns(v, 'imageReferences', vp);
      const legacyImage = optString(v, 'image', vp, POLICY_LIMITS.maxPatternLength);
      if (legacyImage) refs.push(compileWildcard(legacyImage, `${vp}.image`));
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
      rules.push({
        name: ruleName,
        id: `rules[${i}].verifyImages[${j}]`,
        match,
        imageReferences: refs,
        skipImageReferences: patterns(v, 'skipImageReferences', vp),
        failureAction: action,
        attestorSets,
        mutateDigest,
        verifyDigest: optBool(v, 'verifyDigest', vp) ?? true,
        required: optBool(v, 'required', vp) ?? true,
        useCache: optBool(v, 'useCache', vp) ?? true,
      });
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

/** `policies.kyverno.io` ImageValidatingPolicy / NamespacedImageValidatingPolicy → ImagePolicy with one rule. */
export function parseImageValidatingPolicy(doc: Doc, source: string, ctx: ParseContext): ImagePolicy {
  const kind = doc.kind as 'ImageValidatingPolicy' | 'NamespacedImageValidatingPolicy';
  const { name, namespace } = metadataOf(doc, `${source}: ${kind}`);
  const where = `${source}: ${kind} ${name}`;
  const sp = `${where}: spec`;
  const spec = objectAt(doc.spec, sp);
  const actions = optStringList(spec, 'validationActions', sp, 3) ?? ['Deny'];
  for (const a of actions)
    if (!['Deny', 'Warn', 'Audit'].includes(a))
      throw invalid(`${sp}.validationActions`, `unknown action "${a}"`);
  if (actions.includes('Deny') && actions.includes('Warn'))
    throw invalid(`${sp}.validationActions`, 'Deny and Warn cannot be used together');
  const action: FailureAction = actions.includes('Deny') ? 'Enforce' : 'Audit';
  const refs: ReturnType<typeof compileWildcard>[] = [];
  (optArray(spec, 'matchImageReferences', sp, POLICY_LIMITS.maxPatterns) ?? []).forEach((raw, i) => {
    const mp = `${sp}.matchImageReferences[${i}]`;
    const m = objectAt(raw, mp);
    if (m.expression !== undefined)
      throw invalid(`${mp}.expression`, 'CEL expressions are not supported; use glob');
    const glob = optString(m, 'glob', mp, POLICY_LIMITS.maxPatternLength);
    if (!glob) throw invalid(mp, 'glob is required');
    refs.push(compileWildcard(glob, `${mp}.glob`));
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
  const mutateDigest = optBool(cfg, 'mutateDigest', cp) ?? true;
  const fp = failurePolicy(optString(spec, 'failurePolicy', sp), `${sp}.failurePolicy`);
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
      },
    ],
    source,
  };
}
