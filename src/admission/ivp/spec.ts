import type { CelEnv } from '@bufbuild/cel';
import { sha256Hex } from '../../crypto/index.js';
import { parseIvpolAttestors, type ParseContext } from '../policy/attestors.js';
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
import type {
  CompiledIvp,
  ImageMatcher,
  IvpAttestation,
  IvpAttestor,
  IvpKind,
  Program,
  ValidationAction,
  Variant,
} from './types.js';
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

function refuseUnsupportedCosign(raw: unknown, ap: string): void {
  const a = objectAt(raw, ap);
  if (a.notary !== undefined)
    throw invalid(
      `${ap}.notary`,
      'notary attestors are not supported (sigil verifies cosign signatures only)',
    );
  const c = optObject(a, 'cosign', ap);
  if (!c) throw invalid(ap, 'cosign is required');
  const cp = `${ap}.cosign`;
  if (c.tuf !== undefined)
    throw invalid(`${cp}.tuf`, 'a per-policy TUF root is not supported (use the server trusted root)');
  if (c.annotations !== undefined)
    throw invalid(`${cp}.annotations`, 'signature annotation checks are not supported');
  const ct = optObject(c, 'ctlog', cp);
  if (ct?.tsaCertChain !== undefined)
    throw invalid(
      `${cp}.ctlog.tsaCertChain`,
      'per-policy timestamp authorities are not supported (use the server trusted root)',
    );
  const key = optObject(c, 'key', cp);
  if (key?.hashAlgorithm !== undefined && key.hashAlgorithm !== 'sha256')
    throw invalid(`${cp}.key.hashAlgorithm`, 'only sha256 is supported');
}

function parseAttestors(spec: Doc, sp: string, ctx: ParseContext): Map<string, IvpAttestor> {
  const list = optArray(spec, 'attestors', sp, 50) ?? [];
  const out = new Map<string, IvpAttestor>();
  if (list.length === 0) return out;
  list.forEach((raw, i) => refuseUnsupportedCosign(raw, `${sp}.attestors[${i}]`));
  const set = parseIvpolAttestors(list, `${sp}.attestors`, ctx);
  set.entries.forEach((entry, i) => {
    const name = optString(objectAt(list[i], `${sp}.attestors[${i}]`), 'name', `${sp}.attestors[${i}]`, 253);
    if (!name || !IDENT_RE.test(name))
      throw invalid(`${sp}.attestors[${i}].name`, 'a CEL identifier is required');
    if (out.has(name)) throw invalid(`${sp}.attestors[${i}].name`, `duplicate attestor "${name}"`);
    const a = entry.attestor;
    if (a.kind === 'attestor') throw invalid(`${sp}.attestors[${i}]`, 'nested attestors are not supported');
    out.set(name, { name, attestor: a });
  });
  return out;
}

function parseAttestations(spec: Doc, sp: string): Map<string, IvpAttestation> {
  const out = new Map<string, IvpAttestation>();
  (optArray(spec, 'attestations', sp, 50) ?? []).forEach((raw, i) => {
    const p = `${sp}.attestations[${i}]`;
    const o = objectAt(raw, p);
    const name = optString(o, 'name', p, 253);
    if (!name || !IDENT_RE.test(name)) throw invalid(`${p}.name`, 'a CEL identifier is required');
    if (out.has(name)) throw invalid(`${p}.name`, `duplicate attestation "${name}"`);
    if (o.referrer !== undefined)
      throw invalid(`${p}.referrer`, 'OCI 1.1 referrer attestations are not supported (use intoto)');
    const intoto = optObject(o, 'intoto', p);
    const type = intoto && optString(intoto, 'type', `${p}.intoto`, 1024);
    if (!type) throw invalid(`${p}.intoto.type`, 'is required');
    out.set(name, { name, kind: 'intoto', type });
  });
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
  if (spec.credentials !== undefined) {
    const cr = objectAt(spec.credentials, `${sp}.credentials`);
    if (cr.secrets !== undefined || cr.providers !== undefined)
      throw invalid(
        `${sp}.credentials`,
        'registry secrets and cloud providers are not supported (the server uses its own registry credentials)',
      );
  }
  const cfg = optObject(spec, 'validationConfigurations', sp) ?? {};
  const cp = `${sp}.validationConfigurations`;
  const raw = rawExpressions(spec, sp);
  if (raw.validations.length === 0) throw invalid(`${sp}.validations`, 'at least one validation is required');
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
  };
}
