import {
  celEnv,
  celFunc,
  CelScalar,
  isCelError,
  parse,
  plan,
  type CelEnv,
  type CelFunc,
  type CelInput,
  type CelType,
  type CelValue,
} from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import { SigilError } from '../../errors/index.js';
import { CEL_LIMITS } from './limits.js';

/**
 * CEL through @bufbuild/cel, with what the library leaves to its user: every expression is
 * parsed and checked when the policy loads (syntax, undeclared names, unknown functions and
 * argument counts, literal argument types, constant regexes, result type), refused when its
 * estimated worst case is too expensive, and metered while it runs (each comprehension step
 * is charged to a per-call budget; an exhausted budget is an evaluation error, never a hang).
 */

type Expr = ReturnType<typeof parse>['expr'];
type Kind = Expr['exprKind'];

/** What an expression must produce; `dyn` accepts anything. */
export type Expected = 'bool' | 'string' | 'list' | 'dyn';

/** Steps left to one policy evaluation, shared by all its expressions and re-evaluations. */
export interface CelBudget {
  left: number;
}

export interface CompiledExpression {
  readonly source: string;
  readonly path: string;
  /** The top-level names it reads (`object`, `images`, …): what its result can depend on. */
  readonly names: ReadonlySet<string>;
  /** Evaluates with fresh budget; a CelError value (not a throw) on runtime errors. */
  run(bindings: Record<string, CelInput>, budget?: CelBudget): CelValue | Error;
}

const COND_FN = '@sigil_cond';
const RESULT_FN = '@sigil_result';
// Operators the planner implements itself (not in the function resolver).
const BUILTIN_CALLS = new Set(['_&&_', '_||_', '_?_:_', '@not_strictly_false', '_[_]', '_[?_]']);

let stepsLeft = Infinity;
// One error object: once the budget is spent every metered call fails, cheaply.
const EXHAUSTED = new Error(
  `operation cancelled: actual cost limit exceeded (${CEL_LIMITS.runtimeBudget} steps)`,
);
const meterFns = [
  // The loop condition is evaluated before every step: it is where steps are counted, and a
  // spent budget ends every loop at once (the condition turns false; the result is the error).
  celFunc(COND_FN, [CelScalar.BOOL], CelScalar.BOOL, (v) => v && --stepsLeft >= 0),
  celFunc(RESULT_FN, [CelScalar.DYN], CelScalar.DYN, (v) => {
    if (stepsLeft < 0) throw EXHAUSTED;
    return v as CelInput;
  }),
];

/** The CEL environment: standard library, the strings extension, the given functions, the step meter. */
export function makeEnv(funcs: readonly CelFunc[]): CelEnv {
  return celEnv({ funcs: [...(strings as Iterable<CelFunc>), ...funcs, ...meterFns] });
}

function position(source: string, offset: number | undefined): string {
  if (offset === undefined) return '';
  const before = source.slice(0, offset);
  const line = before.split('\n').length;
  const col = offset - before.lastIndexOf('\n');
  return ` at line ${line}, column ${col}`;
}

function fail(path: string, source: string, what: string): SigilError {
  const shown = source.length > 200 ? `${source.slice(0, 200)}…` : source;
  return new SigilError('INVALID_POLICY', `${path}: ${what} (expression: ${JSON.stringify(shown)})`);
}

function nestingDepth(source: string): number {
  let depth = 0;
  let max = 0;
  for (const ch of source) {
    if (ch === '(' || ch === '[' || ch === '{') max = Math.max(max, ++depth);
    else if (ch === ')' || ch === ']' || ch === '}') depth--;
  }
  return max;
}

function constKind(e: Expr): string | undefined {
  if (e.exprKind.case !== 'constExpr') return undefined;
  switch (e.exprKind.value.constantKind.case) {
    case 'int64Value':
      return 'int';
    case 'uint64Value':
      return 'uint';
    case 'doubleValue':
      return 'double';
    case 'stringValue':
      return 'string';
    case 'bytesValue':
      return 'bytes';
    case 'boolValue':
      return 'bool';
    case 'nullValue':
      return 'null_type';
    default:
      return undefined;
  }
}

function accepts(t: CelType, kind: string | undefined): boolean {
  if (kind === undefined) return true;
  if (t.kind !== 'scalar') return kind === 'null_type' ? false : false;
  return t.scalar === 'dyn' || t.scalar === kind;
}

interface Checker {
  env: CelEnv;
  source: string;
  path: string;
  positions: Record<string, number>;
  names: Set<string>;
  nodes: number;
  nextId: bigint;
}

/** Walks the tree: names, calls, literals; returns the estimated steps; rewrites loop steps to be metered. */
function check(
  c: Checker,
  e: Expr,
  depth: number,
  bound: ReadonlySet<string>,
  vars: ReadonlySet<string>,
): number {
  if (++c.nodes > CEL_LIMITS.maxAstNodes) throw fail(c.path, c.source, 'expression has too many nodes');
  if (depth > CEL_LIMITS.maxAstDepth) throw fail(c.path, c.source, 'expression is nested too deeply');
  const at = (): string => position(c.source, c.positions[String(e.id)]);
  const k: Kind = e.exprKind;
  switch (k.case) {
    case 'constExpr':
      return 1;
    case 'identExpr':
      if (bound.has(k.value.name)) return 1;
      if (!vars.has(k.value.name))
        throw fail(c.path, c.source, `undeclared reference to '${k.value.name}'${at()}`);
      c.names.add(k.value.name);
      return 1;
    case 'selectExpr':
      return 1 + check(c, k.value.operand!, depth + 1, bound, vars);
    case 'listExpr':
      return k.value.elements.reduce((n, x) => n + check(c, x, depth + 1, bound, vars), 1);
    case 'structExpr': {
      if (k.value.messageName) throw fail(c.path, c.source, `message construction is not supported${at()}`);
      let n = 1;
      for (const entry of k.value.entries) {
        if (entry.keyKind.case === 'mapKey') n += check(c, entry.keyKind.value, depth + 1, bound, vars);
        n += check(c, entry.value!, depth + 1, bound, vars);
      }
      return n;
    }
    case 'callExpr': {
      const call = k.value;
      const args = call.args;
      let n = 1;
      if (call.target) n += check(c, call.target, depth + 1, bound, vars);
      for (const a of args) n += check(c, a, depth + 1, bound, vars);
      if (BUILTIN_CALLS.has(call.function)) return n;
      const group = c.env.funcs.find(call.function);
      const hasTarget = call.target !== undefined;
      const overloads = group
        ? [...group].filter(
            (f) => f.arguments.length === args.length && (f.target !== undefined) === hasTarget,
          )
        : [];
      if (overloads.length === 0)
        throw fail(
          c.path,
          c.source,
          `found no matching overload for '${call.function}' with ${args.length} argument(s)${at()}`,
        );
      const kinds = args.map(constKind);
      const targetKind = call.target ? constKind(call.target) : undefined;
      if (
        !overloads.some(
          (f) =>
            f.arguments.every((t, i) => accepts(t, kinds[i])) && (!f.target || accepts(f.target, targetKind)),
        )
      ) {
        throw fail(
          c.path,
          c.source,
          `found no matching overload for '${call.function}' applied to (${kinds.map((x) => x ?? 'dyn').join(', ')})${at()}`,
        );
      }
      if (call.function === 'matches') {
        const pattern = args[args.length - 1];
        if (
          pattern?.exprKind.case === 'constExpr' &&
          pattern.exprKind.value.constantKind.case === 'stringValue'
        ) {
          const probe = runOnce(c.env, `''.matches(p)`, { p: pattern.exprKind.value.constantKind.value });
          if (probe instanceof Error)
            throw fail(
              c.path,
              c.source,
              `invalid regular expression (RE2 syntax required)${at()}: ${probe.message}`,
            );
        }
      }
      return n;
    }
    case 'comprehensionExpr': {
      const comp = k.value;
      const range = check(c, comp.iterRange!, depth + 1, bound, vars);
      const inner = new Set(bound);
      inner.add(comp.iterVar);
      if (comp.iterVar2) inner.add(comp.iterVar2);
      inner.add(comp.accuVar);
      const init = check(c, comp.accuInit!, depth + 1, bound, vars);
      const perStep =
        check(c, comp.loopCondition!, depth + 1, inner, vars) +
        check(c, comp.loopStep!, depth + 1, inner, vars);
      const accuOnly = new Set(bound);
      accuOnly.add(comp.accuVar);
      const result = check(c, comp.result!, depth + 1, accuOnly, vars);
      const known = knownSize(comp.iterRange!, bound);
      const size = known ?? CEL_LIMITS.assumedListSize;
      // map / filter (an empty list accumulated) give at most as many elements as they read.
      const init0 = comp.accuInit!;
      if (
        known !== undefined &&
        init0.exprKind.case === 'listExpr' &&
        init0.exprKind.value.elements.length === 0
      )
        SIZES.set(e, known);
      // A loop over a list of known, bounded size (a literal, or an `images` list, at most
      // maxImages) costs at most that many steps: only loops over input of unknown size are metered.
      if (known === undefined) {
        comp.loopCondition = wrap(c, COND_FN, comp.loopCondition!);
        comp.result = wrap(c, RESULT_FN, comp.result!);
      }
      return range + init + result + size * perStep;
    }
    default:
      throw fail(c.path, c.source, `unsupported expression form${at()}`);
  }
}

/** Upper bounds on list sizes known at load, by node. */
const SIZES = new WeakMap<Expr, number>();

function knownSize(r: Expr, bound: ReadonlySet<string>): number | undefined {
  const k = r.exprKind;
  if (k.case === 'listExpr') return k.value.elements.length;
  if (
    k.case === 'selectExpr' &&
    !k.value.testOnly &&
    k.value.operand?.exprKind.case === 'identExpr' &&
    k.value.operand.exprKind.value.name === 'images' &&
    !bound.has('images')
  )
    return CEL_LIMITS.maxImages;
  return SIZES.get(r);
}

function wrap(c: Checker, fn: string, inner: Expr): Expr {
  const id = c.nextId++;
  return {
    ...inner,
    id,
    exprKind: {
      case: 'callExpr',
      value: { $typeName: 'cel.expr.Expr.Call', function: fn, args: [inner] },
    },
  } as Expr;
}

function resultKinds(env: CelEnv, e: Expr): string[] | undefined {
  const kind = constKind(e);
  if (kind) return [kind];
  if (e.exprKind.case === 'listExpr') return ['list'];
  if (e.exprKind.case === 'structExpr') return ['map'];
  if (e.exprKind.case !== 'callExpr' || BUILTIN_CALLS.has(e.exprKind.value.function)) return undefined;
  const group = env.funcs.find(e.exprKind.value.function);
  if (!group) return undefined;
  return [...group].map((f) => (f.result.kind === 'scalar' ? f.result.scalar : f.result.kind));
}

function runOnce(env: CelEnv, source: string, bindings: Record<string, CelInput>): CelValue | Error {
  try {
    const out = plan(env, parse(source))(bindings);
    return isCelError(out) ? out : out;
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
}

/**
 * Parses and checks `source` once, at load. Throws INVALID_POLICY naming `path`, the problem and
 * its position. `vars` are the names the expression may read.
 */
export function compileExpression(
  env: CelEnv,
  source: string,
  path: string,
  vars: ReadonlySet<string>,
  expected: Expected,
): CompiledExpression {
  if (source.length === 0) throw fail(path, source, 'expression is empty');
  if (source.length > CEL_LIMITS.maxExpressionLength)
    throw fail(path, source, `expression is longer than ${CEL_LIMITS.maxExpressionLength} characters`);
  if (nestingDepth(source) > CEL_LIMITS.maxNesting)
    throw fail(path, source, `expression nests brackets deeper than ${CEL_LIMITS.maxNesting}`);
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(source);
  } catch (e) {
    const msg = e instanceof RangeError ? 'expression is nested too deeply' : (e as Error).message;
    throw fail(path, source, `syntax error: ${msg.replace(/^<input>:/, 'at ')}`);
  }
  const positions: Record<string, number> = {};
  for (const [id, off] of Object.entries(parsed.sourceInfo?.positions ?? {})) positions[id] = off;
  const c: Checker = { env, source, path, positions, names: new Set(), nodes: 0, nextId: 1n << 40n };
  const cost = check(c, parsed.expr, 0, new Set(), vars);
  if (cost > CEL_LIMITS.maxEstimatedCost)
    throw fail(
      path,
      source,
      `estimated rule cost exceeds budget by factor of ${(cost / CEL_LIMITS.maxEstimatedCost).toFixed(1)}x`,
    );
  const kinds = resultKinds(env, parsed.expr);
  if (expected !== 'dyn' && kinds && !kinds.some((x) => x === expected || x === 'dyn'))
    throw fail(path, source, `must return ${expected}, not ${kinds.join(' | ')}`);
  const program = plan(env, parsed);
  return {
    source,
    path,
    names: c.names,
    run(bindings, budget) {
      const start = Math.min(CEL_LIMITS.runtimeBudget, budget?.left ?? Infinity);
      if (start <= 0) return EXHAUSTED;
      // An expression may run inside another's library call (matchImageReferences): the outer
      // meter is put back afterwards.
      const outer = stepsLeft;
      stepsLeft = start;
      try {
        return program(bindings);
      } catch (e) {
        return e instanceof Error ? e : new Error(String(e));
      } finally {
        if (budget) budget.left -= start - Math.max(stepsLeft, 0);
        stepsLeft = outer;
      }
    },
  };
}
