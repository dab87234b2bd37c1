import { isCelError, type CelInput, type CelValue } from '@bufbuild/cel';
import type { CelBudget, CompiledExpression } from './cel.js';
import type { IvpVerifier } from './evaluate.js';
import { globMatches, matchingForms } from './glob.js';
import { toCel } from './input.js';
import { PendingVerification, withCalls, type Answer, type Calls, type Question } from './library.js';
import { CEL_LIMITS } from './limits.js';
import { memoOf, remember, replay, type Asked } from './memo.js';
import { questionKey } from './refs.js';
import type { CompiledIvp, IvpAttestor } from './types.js';

/** How an evaluation answers the image library's questions (see library.ts). */

function reason(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').slice(0, 500);
}

const MAX_MATCHES_REMEMBERED = 10_000;
const MATCHES = new WeakMap<CompiledIvp, Map<string, boolean>>();

/**
 * matchImageReferences for one image: Kyverno's first match wins, over every spelling of the
 * image (glob.ts: an aliased spelling must not slip past a glob or an expression). Remembered
 * per policy and image string (globs and CEL are pure); errors are not remembered.
 */
export function imageMatches(p: CompiledIvp, image: string): boolean | Error {
  if (p.matchImageReferences.length === 0) return true;
  let known = MATCHES.get(p);
  const hit = known?.get(image);
  if (hit !== undefined) return hit;
  const forms = matchingForms(image);
  let matched = false;
  if (!forms) matched = true;
  else
    for (const m of p.matchImageReferences) {
      if ('glob' in m) matched = globMatches(m.glob, forms);
      else
        for (const ref of forms) {
          const r = m.expression.run({ ref });
          if (r instanceof Error) return r;
          if (r === true) {
            matched = true;
            break;
          }
        }
      if (matched) break;
    }
  if (!known) MATCHES.set(p, (known = new Map()));
  if (known.size >= MAX_MATCHES_REMEMBERED) known.clear();
  known.set(image, matched);
  return matched;
}

/** Per-evaluation state behind the CEL functions: answers, pending questions, verification records. */
export class EvalCalls implements Calls {
  readonly answers = new Map<string, Answer>();
  readonly pending = new Map<string, Question>();
  /** image → verified? (any record true) — Kyverno's ImageVerificationResults. */
  readonly records = new Map<string, boolean>();
  readonly payloads = new Map<string, unknown>();
  /** Shared by every expression of the evaluation and every re-evaluation. */
  readonly budget: CelBudget = { left: CEL_LIMITS.evaluationBudget };
  /** The questions answered while an expression that may be remembered runs (memo.ts). */
  trace: Asked[] | undefined;

  constructor(
    private readonly policy: CompiledIvp,
    private readonly verifier: IvpVerifier,
  ) {}

  answer(q: Question): Answer | undefined {
    const a = this.lookup(q);
    if (this.trace && a) this.trace.push({ q, a });
    return a;
  }

  private lookup(q: Question): Answer | undefined {
    if (q.kind === 'payload') {
      const key = `${q.image}\0${q.attestation}`;
      if (this.payloads.has(key)) return { ok: true, value: this.payloads.get(key) };
      return this.answers.get(questionKey(q));
    }
    const key = questionKey(q);
    const known = this.answers.get(key);
    if (known || q.kind !== 'signatures' || !this.verifier.peekSignatures) return known;
    const list = q.attestors.map((n) => this.policy.attestors.get(n));
    if (list.length === 0 || list.some((a) => a === undefined)) return undefined;
    const matched = imageMatches(this.policy, q.image);
    if (matched !== true) return undefined;
    const count = this.verifier.peekSignatures(this.policy, q.image, list as IvpAttestor[]);
    if (count === undefined) return undefined;
    this.records.set(q.image, (this.records.get(q.image) ?? false) || count > 0);
    const a: Answer = { ok: true, value: count };
    this.answers.set(key, a);
    return a;
  }

  ask(q: Question): void {
    this.pending.set(questionKey(q), q);
  }
}

async function resolveQuestion(p: CompiledIvp, v: IvpVerifier, calls: EvalCalls, q: Question): Promise<void> {
  const key = questionKey(q);
  const attestors = (names: readonly string[]): IvpAttestor[] =>
    names.map((n) => {
      const a = p.attestors.get(n);
      if (!a) throw new Error(`attestor not found in policy: ${n}`);
      return a;
    });
  try {
    const matched = imageMatches(p, q.image);
    if (matched instanceof Error) throw matched;
    if (q.kind === 'payload') {
      if (!p.attestations.has(q.attestation))
        throw new Error(`attestation not found in policy: ${q.attestation}`);
      throw new Error(
        `failed to get payload: no verified ${p.attestations.get(q.attestation)!.type} attestation for ${q.image}`,
      );
    }
    if (!matched) {
      calls.answers.set(key, { ok: true, value: 0 });
      return;
    }
    const list = attestors(q.attestors);
    let count: number;
    if (q.kind === 'signatures') count = await v.signatures(p, q.image, list);
    else {
      const att = p.attestations.get(q.attestation);
      if (!att) throw new Error(`attestation not found in policy: ${q.attestation}`);
      const r = await v.attestations(p, q.image, att, list);
      count = r.count;
      if (r.count > 0 && r.payload !== undefined)
        calls.payloads.set(`${q.image}\0${q.attestation}`, toCel(r.payload));
    }
    if (list.length > 0) calls.records.set(q.image, (calls.records.get(q.image) ?? false) || count > 0);
    calls.answers.set(key, { ok: true, value: count });
  } catch (e) {
    calls.answers.set(key, { ok: false, error: reason(e) });
  }
}

/**
 * The result remembered for `expr` over these images (memo.ts), when its answers still hold:
 * synchronous, so a warm review's validation costs no evaluation and no await.
 */
export function replayed(
  calls: EvalCalls,
  expr: CompiledExpression,
  imagesKey: string,
): CelValue | undefined {
  const memo = memoOf(expr);
  return memo && replay(memo.get(imagesKey), (q) => calls.answer(q), calls.budget);
}

/**
 * Evaluates `expr`, answering the verifications it asks for, until it no longer waits on any.
 * With `imagesKey` (the evaluation's `images`), the result is remembered for `replayed`.
 */
export async function evaluateWithVerification(
  p: CompiledIvp,
  v: IvpVerifier,
  calls: EvalCalls,
  expr: CompiledExpression,
  bindings: Record<string, CelInput>,
  imagesKey?: string,
): Promise<CelValue | Error> {
  const memo = imagesKey === undefined ? undefined : memoOf(expr);
  for (let round = 0; ; round++) {
    calls.pending.clear();
    const asked: Asked[] | undefined = memo ? [] : undefined;
    const before = calls.budget.left;
    calls.trace = asked;
    let out: CelValue | Error;
    try {
      out = withCalls(calls, () => expr.run(bindings, calls.budget));
    } finally {
      calls.trace = undefined;
    }
    const failed = isCelError(out) || out instanceof Error;
    // A question left unanswered (its error absorbed by || or &&) is not on the record: not kept.
    if (!failed && memo && calls.pending.size === 0)
      remember(memo, imagesKey!, out as CelValue, asked!, before - calls.budget.left);
    if (!failed || calls.pending.size === 0) return out;
    if (round >= CEL_LIMITS.maxVerificationRounds)
      return new Error('too many image verifications in one expression');
    await Promise.all([...calls.pending.values()].map((q) => resolveQuestion(p, v, calls, q)));
  }
}

export function celMessage(e: Error): string {
  if (e instanceof PendingVerification) return 'verification pending';
  return reason(e);
}
