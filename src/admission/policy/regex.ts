import { SigilError } from '../../errors/index.js';
import { compileLinearRegExp } from '../../verify/linear-regex.js';
import { POLICY_LIMITS } from './types.js';

/**
 * Compiles a policy regular expression once, at load time. Kyverno and cosign use Go's RE2,
 * which has no look-around and no back-references; refusing those keeps the same language and
 * rules out the constructs behind catastrophic backtracking. Like RE2's MatchString the result
 * is unanchored: write `^…$` to anchor.
 */
export function compilePolicyRegex(source: string, what: string): RegExp {
  if (source.length === 0) throw new SigilError('INVALID_POLICY', `${what} is empty`);
  if (source.length > POLICY_LIMITS.maxRegexLength) {
    throw new SigilError(
      'INVALID_POLICY',
      `${what} is longer than ${POLICY_LIMITS.maxRegexLength} characters`,
    );
  }
  if (/\(\?<?[=!]/.test(source)) {
    throw new SigilError(
      'INVALID_POLICY',
      `${what} uses look-around, which RE2 (Kyverno, cosign) does not support`,
    );
  }
  if (/\\[1-9]|\\k</.test(source)) {
    throw new SigilError(
      'INVALID_POLICY',
      `${what} uses a back-reference, which RE2 (Kyverno, cosign) does not support`,
    );
  }
  try {
    return compileLinearRegExp(source);
  } catch (e) {
    throw new SigilError(
      'INVALID_POLICY',
      `${what} is not a valid regular expression: ${(e as Error).message}`,
    );
  }
}
