import { setFlagsFromString } from 'node:v8';

/** V8's linear-engine flag; a variable because linters only know the standard flags. */
const LINEAR_FLAG = 'l';
let linear: boolean | undefined;

/** V8's linear-time regexp engine (the `l` flag), switched on once; false where this V8 lacks it. */
function linearEngine(): boolean {
  if (linear === undefined) {
    try {
      setFlagsFromString('--enable-experimental-regexp_engine');
      linear = new RegExp('a', LINEAR_FLAG).test('a');
    } catch {
      linear = false;
    }
  }
  return linear;
}

/**
 * Compiles an identity pattern (RE2's language, as Kyverno and cosign use) for V8's linear-time
 * engine, so no subject — which a signer partly chooses — can make matching backtrack
 * exponentially (`^(a+)+$` against 27 `a`s and a `!` takes ~18 s on the backtracking engine).
 * Throws SyntaxError for patterns that cannot run in linear time (back-references,
 * look-around, very large counted repetitions). Without the linear engine, falls back to `u`.
 */
export function compileLinearRegExp(source: string): RegExp {
  return linearEngine() ? new RegExp(source, LINEAR_FLAG) : new RegExp(source, 'u');
}
