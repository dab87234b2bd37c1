import type { CelValue } from '@bufbuild/cel';
import type { CompiledExpression } from './cel.js';
import type { Answer, Question } from './library.js';

/**
 * Results of validations remembered across reviews, so a warm review does not interpret the
 * same CEL again. A CEL evaluation is a pure function of the bindings it reads and of the
 * answers the image library gives it, asked in order. An expression that reads only `images`,
 * `attestors` and `attestations` (the last two fixed per policy) is remembered by the images it
 * was given, with the questions it asked and their answers. It is replayed only when the same
 * questions, asked again of this review's verifications in the same order, get the same answers:
 * then the evaluation would take the same path to the same result. Anything else (an answer
 * that changed or is not known without I/O, an error, a payload) evaluates afresh.
 */

/** What a remembered result may depend on besides the library's answers. */
const CONSTANT_PER_IMAGES = new Set(['images', 'attestors', 'attestations']);
const MAX_PER_EXPRESSION = 4096;

export interface Asked {
  q: Question;
  a: Answer;
}

interface Remembered {
  value: CelValue;
  asked: readonly Asked[];
  /** Budget steps the evaluation took (charged again on replay). */
  steps: number;
}

const MEMOS = new WeakMap<CompiledExpression, Map<string, Remembered>>();

/** The remembered results of `expr` when it can have any (undefined: always evaluate). */
export function memoOf(expr: CompiledExpression): Map<string, Remembered> | undefined {
  let m = MEMOS.get(expr);
  if (m) return m;
  for (const n of expr.names) if (!CONSTANT_PER_IMAGES.has(n)) return undefined;
  m = new Map();
  MEMOS.set(expr, m);
  return m;
}

/** Only plain results whose every answer was a count are kept (no errors, no payloads). */
export function remember(
  memo: Map<string, Remembered>,
  key: string,
  value: CelValue,
  asked: readonly Asked[],
  steps: number,
): void {
  if (typeof value !== 'boolean' && typeof value !== 'string') return;
  for (const { a } of asked) if (!a.ok || typeof a.value !== 'number') return;
  if (memo.size >= MAX_PER_EXPRESSION) memo.clear();
  memo.set(key, { value, asked, steps });
}

/**
 * The remembered result when every recorded question gets the recorded answer again from
 * `answer` (which records what it verified, as the evaluation would); undefined otherwise.
 */
export function replay(
  r: Remembered | undefined,
  answer: (q: Question) => Answer | undefined,
  budget: { left: number },
): CelValue | undefined {
  if (!r || budget.left < r.steps) return undefined;
  for (const { q, a } of r.asked) {
    const now = answer(q);
    if (!now || !now.ok || now.value !== (a as { value: unknown }).value) return undefined;
  }
  budget.left -= r.steps;
  return r.value;
}

/** The identity of an evaluation's `images` binding (list names and image strings cannot hold NUL). */
export function imagesKey(images: ReadonlyMap<string, readonly string[]>): string {
  let k = '';
  for (const [name, list] of images) k += `${name}\u0000${list.join('\u0000')}\u0001`;
  return k;
}
