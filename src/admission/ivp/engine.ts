import type { Decision, JsonPatchOp } from '../decision.js';
import type { AdmissionInput } from '../engine.js';
import type { ImagePolicy } from '../policy/types.js';
import { ivpDenialMessage, ivpResponse } from './decision.js';
import { evaluateIvp, type IvpResult } from './evaluate.js';
import { targetFor } from './target.js';
import type { IvpVerification } from './verifier.js';

/** What the admission engine hands the IVP evaluator. */
export interface IvpSeams {
  verification: IvpVerification;
}

function failClosed(p: ImagePolicy, message: string): IvpResult {
  const ivp = p.ivp!;
  return {
    policy: ivp.name,
    kind: ivp.kind,
    status: 'error',
    message,
    actions: ivp.actions,
    failurePolicy: ivp.failurePolicy,
    images: [],
    patch: [],
    auditAnnotations: {},
  };
}

/** The ImageValidatingPolicies of each policy list (an engine's list is fixed). */
const IVPS = new WeakMap<readonly ImagePolicy[], ImagePolicy[]>();

/**
 * Every ImageValidatingPolicy of `policies` over one request, side by side, each within the
 * request's deadline (its own `webhookConfiguration.timeoutSeconds` when shorter). An
 * evaluation that does not finish in time is an error, decided by the policy's failurePolicy.
 */
export async function evaluateIvps(
  policies: readonly ImagePolicy[],
  seams: IvpSeams | undefined,
  input: AdmissionInput,
  mode: 'mutate' | 'validate',
  timeoutMs: number,
  outer?: AbortSignal,
): Promise<IvpResult[]> {
  let ivps = IVPS.get(policies);
  if (!ivps) IVPS.set(policies, (ivps = policies.filter((p) => p.ivp)));
  if (ivps.length === 0) return [];
  const target = targetFor(input);
  const req = {
    target,
    kind: input.kind,
    object: input.object,
    oldObject: input.oldObject ?? null,
    request: input.request ?? {},
    namespaceObject: input.namespaceObject ?? null,
  };
  const runs = ivps.map(async (p): Promise<IvpResult | undefined> => {
    if (!seams) return failClosed(p, 'no image verifier is configured for ImageValidatingPolicies');
    const ms = Math.min(timeoutMs, (p.ivp!.timeoutSeconds ?? Infinity) * 1000);
    // Every registry call races this signal and CEL is metered, so the evaluation ends in time;
    // the timer is made on first I/O only (a review answered from the cache needs none).
    let made: AbortSignal | undefined;
    const signal = (): AbortSignal =>
      (made ??= outer ? AbortSignal.any([outer, AbortSignal.timeout(ms)]) : AbortSignal.timeout(ms));
    try {
      return await evaluateIvp(p.ivp!, req, seams.verification.forRequest(signal, p.ivp), mode);
    } catch (e) {
      return failClosed(p, (e as Error).message);
    }
  });
  if (runs.length === 1) {
    const only = await runs[0]!;
    return only ? [only] : [];
  }
  return (await Promise.all(runs)).filter((r): r is IvpResult => r !== undefined);
}

/** Adds the IVPs' answer to the ClusterPolicy decision: either may deny; warnings and pins add up. */
export function decideWithIvp(d: Decision, results: readonly IvpResult[]): Decision {
  if (results.length === 0) return d;
  const { denials, warnings } = ivpResponse(results);
  // An IVP decided, so nothing was skipped (left out by rest, not `delete`d: a fast-shaped object).
  const { skippedBecause: _skipped, ...rest } = d;
  const out: Decision = {
    ...rest,
    warnings: warnings.length > 0 ? [...d.warnings, ...warnings] : d.warnings,
    ivpResults: [...results],
  };
  if (denials.length > 0) {
    out.allowed = false;
    out.message = d.allowed ? ivpDenialMessage(denials) : `${d.message ?? ''}${ivpDenialMessage(denials)}`;
    out.patch = [];
    return out;
  }
  if (!d.allowed) return out;
  const seen = new Set(d.patch.map((p) => p.path));
  const patch: JsonPatchOp[] = [...d.patch];
  for (const r of results)
    for (const p of r.patch)
      if (!seen.has(p.pointer)) {
        seen.add(p.pointer);
        patch.push({ op: 'replace', path: p.pointer, value: p.value });
      }
  out.patch = patch;
  return out;
}
