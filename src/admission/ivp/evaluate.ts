import { isCelError, isCelList, type CelInput } from '@bufbuild/cel';
import { cachedReference } from './refs.js';
import { extractImages, isResourceKind } from '../resources.js';
import { fromCel, toCel } from './input.js';
import { imagesKey } from './memo.js';
import { celMessage, EvalCalls, evaluateWithVerification, imageMatches, replayed } from './calls.js';
import { CEL_LIMITS } from './limits.js';
import { AUTOGEN_TARGETS, constraintsMatch, selectorMatches, type RequestTarget } from './match.js';
import type { CompiledIvp, IvpAttestation, IvpAttestor, Program, ValidationAction } from './types.js';

/**
 * The seam to registries and signature checks; the evaluator itself is pure. One instance per
 * admission request (it may memoize tag → digest so the patch pins exactly what was verified).
 */
export interface IvpVerifier {
  /** How many of `attestors` verify a signature on `image`. */
  signatures(policy: CompiledIvp, image: string, attestors: readonly IvpAttestor[]): Promise<number>;
  /** How many of `attestors` verify an attestation of this type; payload = the first verified statement. */
  attestations(
    policy: CompiledIvp,
    image: string,
    attestation: IvpAttestation,
    attestors: readonly IvpAttestor[],
  ): Promise<{ count: number; payload?: unknown }>;
  /** The digest the reference names now (mutateDigest). */
  resolveDigest(image: string): Promise<string>;
  /**
   * A signature count known without I/O (a digest-pinned image whose every attestor is a cached
   * success), so a warm review evaluates each expression once; undefined = ask `signatures`.
   */
  peekSignatures?(policy: CompiledIvp, image: string, attestors: readonly IvpAttestor[]): number | undefined;
  /** Resolves a tagged image's digest ahead of the expressions (the same answer they will get). */
  prefetch?(image: string): Promise<void>;
}

export interface IvpRequest {
  /** A JSON payload (not an admission request): only `evaluation.mode: JSON` policies apply. */
  json?: boolean;
  target: RequestTarget;
  /** Object kind (Pod, Deployment, … or anything for JSON mode / CRDs). */
  kind: string;
  object: unknown;
  oldObject?: unknown;
  request?: unknown;
  namespaceObject?: unknown;
}

export type IvpStatus = 'pass' | 'fail' | 'error';

export interface IvpPatch {
  pointer: string;
  value: string;
}

export interface IvpResult {
  policy: string;
  kind: CompiledIvp['kind'];
  status: IvpStatus;
  message: string;
  actions: ReadonlySet<ValidationAction>;
  failurePolicy: CompiledIvp['failurePolicy'];
  /** The images the policy matched (after matchImageReferences). */
  images: string[];
  patch: IvpPatch[];
  auditAnnotations: Record<string, string>;
}

function reason(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').slice(0, 500);
}

function pinnedDigest(img: string): boolean {
  try {
    return cachedReference(img).digest !== undefined;
  } catch {
    return false;
  }
}

const NAMES = new WeakMap<Program, ReadonlySet<string>>();

/** Every top-level name any expression of `program` reads (built once per program). */
function namesOf(program: Program): ReadonlySet<string> {
  let n = NAMES.get(program);
  if (!n) {
    const all = new Set<string>();
    const add = (e: { names: ReadonlySet<string> } | undefined): void => e?.names.forEach((x) => all.add(x));
    for (const x of program.matchConditions) add(x.expression);
    for (const x of program.variables) add(x.expression);
    for (const x of program.images) add(x.expression);
    for (const x of program.auditAnnotations) add(x.expression);
    for (const x of program.validations) {
      add(x.expression);
      add(x.messageExpression);
    }
    n = all;
    NAMES.set(program, n);
  }
  return n;
}

const NAMED = new WeakMap<CompiledIvp, { attestors: CelInput; attestations: CelInput }>();

/** `attestors.<name>` and `attestations.<name>` as CEL sees them (built once per policy). */
function namedValues(p: CompiledIvp): { attestors: CelInput; attestations: CelInput } {
  let v = NAMED.get(p);
  if (!v) {
    v = {
      attestors: new Map([...p.attestors.keys()].map((n) => [n, new Map([['name', n]])])),
      attestations: new Map([...p.attestations.keys()].map((n) => [n, n])),
    };
    NAMED.set(p, v);
  }
  return v;
}

/** Which program decides this request, or undefined when the policy does not apply. */
export function selectProgram(p: CompiledIvp, req: IvpRequest): Program | undefined {
  if (!p.admission) return undefined;
  if (p.namespace !== undefined && p.namespace !== req.target.namespace) return undefined;
  // Kyverno's admission controller ignores JSON-mode policies; they decide JSON payloads only.
  if (p.mode === 'JSON' || req.json) return p.mode === 'JSON' && req.json ? p.programs.pod : undefined;
  if (!p.match) return undefined;
  if (constraintsMatch(p.match, req.target)) return p.programs.pod;
  const variant = p.autogen.get(req.kind);
  if (!variant) return undefined;
  const t = Object.values(AUTOGEN_TARGETS).find((x) => x.kind === req.kind)!;
  const ops = p.match.resourceRules[0]!.operations;
  if (req.target.group !== t.group || req.target.resource !== t.resource || req.target.subResource !== '')
    return undefined;
  if (!ops.includes('*') && !ops.includes(req.target.operation)) return undefined;
  if (
    req.target.namespace !== '' &&
    !selectorMatches(p.match.namespaceSelector, req.target.namespaceLabels ?? {})
  )
    return undefined;
  return p.programs[variant];
}

interface PodImage {
  image: string;
  pointer?: string;
}

function defaultImages(kind: string, object: unknown): Map<string, PodImage[]> {
  const out = new Map<string, PodImage[]>();
  if (!isResourceKind(kind)) return out;
  for (const list of ['containers', 'initContainers', 'ephemeralContainers']) out.set(list, []);
  for (const c of extractImages(kind, object)) out.get(c.list)!.push({ image: c.image, pointer: c.pointer });
  return out;
}

/**
 * Kyverno's ImageValidatingPolicy evaluation for one request: matchConditions, variables,
 * images (default extractors for pods and pod controllers plus `images`), matchImageReferences,
 * verifyDigest, validations in order (the first false decides, with its message,
 * messageExpression or "CEL expression validation failed at index N"), then `required`.
 * Undefined when the policy does not apply.
 */
export async function evaluateIvp(
  p: CompiledIvp,
  req: IvpRequest,
  verifier: IvpVerifier,
  mode: 'mutate' | 'validate',
): Promise<IvpResult | undefined> {
  const program = selectProgram(p, req);
  if (!program) return undefined;
  const done = (
    status: IvpStatus,
    message: string,
    images: string[] = [],
    patch: IvpPatch[] = [],
    audit: Record<string, string> = {},
  ): IvpResult => ({
    policy: p.name,
    kind: p.kind,
    actions: p.actions,
    failurePolicy: p.failurePolicy,
    status,
    message,
    images,
    patch,
    auditAnnotations: audit,
  });
  // Only what the program's expressions read is bound (each binding is a lazy view anyway).
  const names = namesOf(program);
  let bindings: Record<string, CelInput>;
  try {
    const object = names.has('object') || names.has('request') ? toCel(req.object) : null;
    const oldObject = names.has('oldObject') || names.has('request') ? toCel(req.oldObject ?? null) : null;
    bindings =
      p.mode === 'JSON'
        ? { object }
        : {
            object,
            oldObject,
            // The request carries the object again: converted once, shared.
            request: names.has('request') ? toCel(req.request ?? {}, { object, oldObject }) : null,
            namespaceObject: names.has('namespaceObject') ? toCel(req.namespaceObject ?? null) : null,
          };
  } catch (e) {
    return done('error', reason(e));
  }
  const calls = new EvalCalls(p, verifier);
  for (const mc of program.matchConditions) {
    const r = mc.expression.run(bindings, calls.budget);
    if (r instanceof Error || isCelError(r))
      return done('error', `matchConditions ${mc.name}: ${celMessage(r as Error)}`);
    if (r !== true) return undefined;
  }
  const variables = new Map<string, CelInput>();
  bindings.variables = variables;
  // Variables are lazy in Kyverno; one that fails is left out, so only a use of it errors.
  for (const vd of program.variables) {
    const r = await evaluateWithVerification(p, verifier, calls, vd.expression, bindings);
    if (!(r instanceof Error) && !isCelError(r)) variables.set(vd.name, r as CelInput);
  }
  let extracted: Map<string, PodImage[]>;
  try {
    extracted = p.mode === 'JSON' ? new Map() : defaultImages(req.kind, req.object);
  } catch (e) {
    return done('error', reason(e));
  }
  for (const ex of program.images) {
    const r = ex.expression.run(bindings, calls.budget);
    if (r instanceof Error || isCelError(r) || !isCelList(r))
      return done(
        'error',
        `images ${ex.name}: ${r instanceof Error ? celMessage(r) : 'must be a list of strings'}`,
      );
    const list = [...r];
    if (!list.every((x) => typeof x === 'string'))
      return done('error', `images ${ex.name}: must be a list of strings`);
    extracted.set(
      ex.name,
      (list as string[]).map((image) => ({ image })),
    );
  }
  const imagesValue = new Map<string, string[]>();
  const matched: PodImage[] = [];
  for (const [name, list] of extracted) {
    const kept: string[] = [];
    for (const img of list) {
      const m = imageMatches(p, img.image);
      if (m instanceof Error) return done('error', `matchImageReferences: ${reason(m)}`);
      if (m) {
        kept.push(img.image);
        matched.push(img);
      }
    }
    imagesValue.set(name, kept);
  }
  if (matched.length > CEL_LIMITS.maxImages) return done('error', `more than ${CEL_LIMITS.maxImages} images`);
  const matchedNames = [...new Set(matched.map((m) => m.image))];
  if (p.verifyDigest && mode === 'validate') {
    for (const img of matchedNames) {
      let digest: string | undefined;
      try {
        digest = cachedReference(img).digest;
      } catch (e) {
        return done('error', `failed to parse image reference ${img}: ${reason(e)}`, matchedNames);
      }
      if (!digest) return done('fail', `image ${img} does not have a digest`, matchedNames);
    }
  }
  // Tags are resolved side by side before any expression runs (ClusterPolicy resolves them too),
  // so a warm review's verifications are answered from the cache in one evaluation.
  const tagged = matchedNames.filter((img) => !pinnedDigest(img));
  if (verifier.prefetch && p.attestors.size > 0 && tagged.length > 0)
    await Promise.all(tagged.map((img) => verifier.prefetch!(img).catch(() => undefined)));
  bindings.images = imagesValue as Map<string, CelInput>;
  const key = imagesKey(imagesValue);
  const named = namedValues(p);
  bindings.attestors = named.attestors;
  bindings.attestations = named.attestations;
  for (const [i, val] of program.validations.entries()) {
    const r =
      replayed(calls, val.expression, key) ??
      (await evaluateWithVerification(p, verifier, calls, val.expression, bindings, key));
    if (r instanceof Error || isCelError(r)) return done('error', celMessage(r as Error), matchedNames);
    if (typeof r !== 'boolean') return done('error', `validation ${i} did not return a bool`, matchedNames);
    if (!r) {
      let message = val.message ?? '';
      if (val.messageExpression) {
        const m = await evaluateWithVerification(p, verifier, calls, val.messageExpression, bindings);
        if (m instanceof Error || isCelError(m))
          message = `failed to evaluate message expression: ${celMessage(m as Error)}`;
        else if (typeof m !== 'string') message = 'failed to convert message expression to string';
        else message = m;
      }
      if (message === '') message = `CEL expression validation failed at index ${i}`;
      return done('fail', message, matchedNames, [], await audits(p, verifier, calls, program, bindings));
    }
  }
  if (p.required) {
    for (const img of matchedNames) {
      const rec = calls.records.get(img);
      if (rec === true) continue;
      if (rec === false)
        return done('fail', `image ${img} failed signature or attestation verification`, matchedNames);
      return done(
        'fail',
        `image ${img} is not verified: no policy performed a signature or attestation check on it`,
        matchedNames,
      );
    }
  }
  const patch: IvpPatch[] = [];
  if (mode === 'mutate' && p.mutateDigest) {
    for (const img of matched) {
      if (!img.pointer) continue;
      try {
        if (cachedReference(img.image).digest) continue;
        patch.push({
          pointer: img.pointer,
          value: `${img.image}@${await verifier.resolveDigest(img.image)}`,
        });
      } catch (e) {
        return done('error', `failed to resolve digest of ${img.image}: ${reason(e)}`, matchedNames);
      }
    }
  }
  const audit =
    program.auditAnnotations.length > 0 ? await audits(p, verifier, calls, program, bindings) : {};
  return done('pass', '', matchedNames, patch, audit);
}

async function audits(
  p: CompiledIvp,
  v: IvpVerifier,
  calls: EvalCalls,
  program: Program,
  bindings: Record<string, CelInput>,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  if (program.auditAnnotations.length === 0) return out;
  for (const a of program.auditAnnotations) {
    const r = await evaluateWithVerification(p, v, calls, a.expression, bindings);
    if (typeof r === 'string') out[`${p.name}/${a.key}`] = r;
  }
  return out;
}

export { fromCel };
