import type { CelEnv } from '@bufbuild/cel';
import { sha256Hex } from '../../crypto/index.js';
import type { ParseContext } from '../policy/attestors.js';
import { parseRegistryCredentials } from '../policy/credentials.js';
import {
  type Doc,
  invalid,
  objectAt,
  optArray,
  optBool,
  optInt,
  optObject,
  optString,
  optStringList,
} from '../policy/fields.js';
import { compileExpression, makeEnv, type Expected } from './cel.js';
import { KYVERNO_IMAGE_FUNCS } from './library.js';
import { CEL_LIMITS } from './limits.js';
import { AUTOGEN_TARGETS, canAutogen, parseMatchConstraints, rewriteForAutogen } from './match.js';
import type { ImagePolicy } from '../policy/types.js';
import { ivpAsRule } from './as-rule.js';
import { parseAttestations, parseAttestors } from './attestors.js';
import type { CompiledIvp, ImageMatcher, IvpKind, Program, ValidationAction, Variant } from './types.js';
import { compileGlob } from './glob.js';
import { refuseUnevaluatedIvp } from './refusals.js';

const NAME_RE = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const IDENT_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

let sharedEnv: CelEnv | undefined;
/** One CEL environment for every policy (the library functions read the evaluation's context). */
export function ivpEnv(): CelEnv {
  return (sharedEnv ??= makeEnv(KYVERNO_IMAGE_FUNCS));
}

const ADMISSION_VARS = ['object', 'oldObject', 'request', 'namespaceObject'];
const VARS = {
  match: new Set(ADMISSION_VARS),
  images: new Set([...ADMISSION_VARS, 'variables']),
  full: new Set([...ADMISSION_VARS, 'variables', 'images', 'attestors', 'attestations']),
  ref: new Set(['ref']),
  json: new Set(['object', 'variables', 'images', 'attestors', 'attestations']),
};

type RawExpressions = {
  matchConditions: { name: string; expression: string; path: string }[];
  variables: { name: string; expression: string; path: string }[];
  images: { name: string; expression: string; path: string }[];
  validations: { expression: string; message?: string; messageExpression?: string; path: string }[];
  auditAnnotations: { key: string; expression: string; path: string }[];
};

function named(
  spec: Doc,
  key: string,
  sp: string,
  max: number,
  nameKey = 'name',
): { name: string; expression: string; path: string }[] {
  const seen = new Set<string>();
  return (optArray(spec, key, sp, max) ?? []).map((raw, i) => {
    const p = `${sp}.${key}[${i}]`;
    const o = objectAt(raw, p);
    const name = optString(o, nameKey, p, 253);
    if (!name) throw invalid(`${p}.${nameKey}`, 'is required');
    if (seen.has(name)) throw invalid(`${p}.${nameKey}`, `duplicate name "${name}"`);
    seen.add(name);
    const expression = optString(o, 'expression', p, CEL_LIMITS.maxExpressionLength);
    if (!expression) throw invalid(`${p}.expression`, 'is required');
    return { name, expression, path: `${p}.expression` };
  });
}

function rawExpressions(spec: Doc, sp: string): RawExpressions {
  const validations = (optArray(spec, 'validations', sp, CEL_LIMITS.maxValidations) ?? []).map((raw, i) => {
    const p = `${sp}.validations[${i}]`;
    const o = objectAt(raw, p);
    const expression = optString(o, 'expression', p, CEL_LIMITS.maxExpressionLength);
    if (!expression) throw invalid(`${p}.expression`, 'is required');
    const message = optString(o, 'message', p, 4096);
    const messageExpression = optString(o, 'messageExpression', p, CEL_LIMITS.maxExpressionLength);
    if (
      o.reason !== undefined &&
      !['Unauthorized', 'Forbidden', 'Invalid', 'RequestEntityTooLarge'].includes(String(o.reason))
    )
      throw invalid(`${p}.reason`, `unknown reason "${String(o.reason)}"`);
    return { expression, message, messageExpression, path: p };
  });
  const variables = named(spec, 'variables', sp, CEL_LIMITS.maxVariables);
  for (const v of variables)
    if (!IDENT_RE.test(v.name)) throw invalid(v.path, `variable name "${v.name}" is not a CEL identifier`);
  return {
    matchConditions: named(spec, 'matchConditions', sp, CEL_LIMITS.maxMatchConditions),
    variables,
    images: named(spec, 'images', sp, CEL_LIMITS.maxImageExtractors),
    validations,
    auditAnnotations: (optArray(spec, 'auditAnnotations', sp, 20) ?? []).map((raw, i) => {
      const p = `${sp}.auditAnnotations[${i}]`;
      const o = objectAt(raw, p);
      const key = optString(o, 'key', p, 63);
      const expression = optString(o, 'valueExpression', p, CEL_LIMITS.maxExpressionLength);
      if (!key || !expression) throw invalid(p, 'key and valueExpression are required');
      return { key, expression, path: `${p}.valueExpression` };
    }),
  };
}

function compileProgram(raw: RawExpressions, json: boolean, rewrite?: (s: string) => string): Program {
  const env = ivpEnv();
  const tr = rewrite ?? ((s: string) => s);
  const c = (src: string, path: string, vars: Set<string>, expected: Expected) =>
    compileExpression(env, tr(src), path, vars, expected);
  const full = json ? VARS.json : VARS.full;
  return {
    matchConditions: raw.matchConditions.map((m) => ({
      name: m.name,
      expression: c(m.expression, m.path, VARS.match, 'bool'),
    })),
    variables: raw.variables.map((v) => ({ name: v.name, expression: c(v.expression, v.path, full, 'dyn') })),
    images: raw.images.map((v) => ({
      name: v.name,
      expression: c(v.expression, v.path, json ? VARS.json : VARS.images, 'list'),
    })),
    validations: raw.validations.map((v) => ({
      expression: c(v.expression, `${v.path}.expression`, full, 'bool'),
      ...(v.message ? { message: v.message } : {}),
      ...(v.messageExpression
        ? { messageExpression: c(v.messageExpression, `${v.path}.messageExpression`, full, 'string') }
        : {}),
    })),
    auditAnnotations: raw.auditAnnotations.map((a) => ({
      key: a.key,
      expression: c(a.expression, a.path, full, 'string'),
    })),
  };
}

function parseActions(spec: Doc, sp: string): Set<ValidationAction> {
  const list = optStringList(spec, 'validationActions', sp, 3) ?? ['Deny'];
  const out = new Set<ValidationAction>();
  for (const a of list) {
    if (a !== 'Deny' && a !== 'Warn' && a !== 'Audit')
      throw invalid(`${sp}.validationActions`, `unknown action "${a}"`);
    if (out.has(a)) throw invalid(`${sp}.validationActions`, `duplicate action "${a}"`);
    out.add(a);
  }
  if (out.size === 0) out.add('Deny');
  if (out.has('Deny') && out.has('Warn'))
    throw invalid(`${sp}.validationActions`, 'Deny and Warn cannot be used together');
  return out;
}

function parseImageRefs(spec: Doc, sp: string): ImageMatcher[] {
  return (optArray(spec, 'matchImageReferences', sp, 200) ?? []).map((raw, i) => {
    const p = `${sp}.matchImageReferences[${i}]`;
    const o = objectAt(raw, p);
    const glob = optString(o, 'glob', p, 512);
    const expression = optString(o, 'expression', p, CEL_LIMITS.maxExpressionLength);
    if ((glob === undefined) === (expression === undefined))
      throw invalid(p, 'either glob or expression must be set');
    if (glob !== undefined) return { glob: compileGlob(glob, `${p}.glob`) };
    return { expression: compileExpression(ivpEnv(), expression!, `${p}.expression`, VARS.ref, 'bool') };
  });
}

/** `policies.kyverno.io` (v1, v1beta1, v1alpha1) ImageValidatingPolicy / NamespacedImageValidatingPolicy → CompiledIvp. */
export function parseIvp(doc: Doc, source: string, ctx: ParseContext): CompiledIvp {
  const kind = doc.kind as IvpKind;
  const meta = objectAt(doc.metadata, `${source}: ${kind}: metadata`);
  const name = optString(meta, 'name', `${source}: ${kind}: metadata`, 253);
  if (!name || !NAME_RE.test(name))
    throw invalid(`${source}: ${kind}: metadata.name`, 'a DNS-1123 name is required');
  const namespace = optString(meta, 'namespace', `${source}: ${kind}: metadata`, 63);
  const sp = `${source}: ${kind} ${name}: spec`;
  const spec = objectAt(doc.spec, sp);
  refuseUnevaluatedIvp(doc, spec, `${source}: ${kind} ${name}`, sp);
  const fp = optString(spec, 'failurePolicy', sp) ?? 'Fail';
  if (fp !== 'Fail' && fp !== 'Ignore')
    throw invalid(`${sp}.failurePolicy`, `unknown failure policy "${fp}"`);
  const evaluation = optObject(spec, 'evaluation', sp) ?? {};
  const mode = optString(evaluation, 'mode', `${sp}.evaluation`) ?? 'Kubernetes';
  if (mode !== 'Kubernetes' && mode !== 'JSON')
    throw invalid(`${sp}.evaluation.mode`, `unknown mode "${mode}"`);
  const admissionCfg = optObject(evaluation, 'admission', `${sp}.evaluation`);
  const admission = (admissionCfg && optBool(admissionCfg, 'enabled', `${sp}.evaluation.admission`)) ?? true;
  const credsDoc = optObject(spec, 'credentials', sp);
  const creds = credsDoc && parseRegistryCredentials(credsDoc, `${sp}.credentials`);
  const cfg = optObject(spec, 'validationConfigurations', sp) ?? {};
  const cp = `${sp}.validationConfigurations`;
  const raw = rawExpressions(spec, sp);
  const json = mode === 'JSON';
  const match = json ? undefined : parseMatchConstraints(spec, sp);
  const autogen = new Map<string, Variant>();
  const programs: CompiledIvp['programs'] = { pod: compileProgram(raw, json) };
  if (match && canAutogen(match)) {
    const ag = optObject(spec, 'autogen', sp);
    const pc = ag && optObject(ag, 'podControllers', `${sp}.autogen`);
    const wanted =
      (pc && optStringList(pc, 'controllers', `${sp}.autogen.podControllers`, 10)) ??
      Object.keys(AUTOGEN_TARGETS);
    for (const c of wanted) {
      const t = AUTOGEN_TARGETS[c];
      if (!t) throw invalid(`${sp}.autogen.podControllers.controllers`, `unknown controller "${c}"`);
      autogen.set(t.kind, t.variant);
      programs[t.variant] ??= compileProgram(raw, json, (s) =>
        rewriteForAutogen(s, t.variant as Exclude<Variant, 'pod'>),
      );
    }
  }
  const webhook = optObject(spec, 'webhookConfiguration', sp);
  const timeoutSeconds = webhook && optInt(webhook, 'timeoutSeconds', `${sp}.webhookConfiguration`);
  if (timeoutSeconds !== undefined && (timeoutSeconds < 1 || timeoutSeconds > 30))
    throw invalid(`${sp}.webhookConfiguration.timeoutSeconds`, 'must be between 1 and 30');
  return {
    kind,
    name,
    ...(kind === 'NamespacedImageValidatingPolicy' ? { namespace: namespace ?? 'default' } : {}),
    id: `${kind}/${namespace ?? ''}/${name}@${sha256Hex(Buffer.from(JSON.stringify(doc))).slice(0, 16)}`,
    source,
    failurePolicy: fp,
    actions: parseActions(spec, sp),
    mode,
    admission,
    ...(match ? { match } : {}),
    autogen,
    programs,
    matchImageReferences: parseImageRefs(spec, sp),
    attestors: parseAttestors(spec, sp, ctx),
    attestations: parseAttestations(spec, sp),
    mutateDigest: optBool(cfg, 'mutateDigest', cp) ?? true,
    verifyDigest: optBool(cfg, 'verifyDigest', cp) ?? true,
    required: optBool(cfg, 'required', cp) ?? true,
    ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
    ...(creds ? { registryCredentials: creds } : {}),
  };
}

/**
 * An ImageValidatingPolicy document as the engine reads it: with `validations`, decided by the
 * CEL engine (`ivp`); without, the subset sigil read before it, one ClusterPolicy-style rule
 * (any one attestor admits each matched image).
 */
export function parseIvpDocument(doc: Doc, source: string, ctx: ParseContext): ImagePolicy {
  const ivp = parseIvp(doc, source, ctx);
  const common = {
    kind: ivp.kind,
    name: ivp.name,
    ...(ivp.namespace !== undefined ? { namespace: ivp.namespace } : {}),
    id: ivp.id,
    source,
  };
  if (ivp.programs.pod.validations.length > 0)
    return { ...common, failurePolicy: ivp.failurePolicy, rules: [], ivp };
  const spec = doc.spec as Doc;
  const autogen = optObject(spec, 'autogen', 'spec');
  const rule = ivpAsRule(
    ivp,
    `${source}: ${ivp.kind} ${ivp.name}: spec`,
    !!autogen && Object.keys(autogen).length > 0,
  );
  return {
    ...common,
    ...(spec.failurePolicy !== undefined ? { failurePolicy: ivp.failurePolicy } : {}),
    rules: [rule],
  };
}
