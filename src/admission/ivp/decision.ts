import type { IvpResult } from './evaluate.js';

export interface IvpResponse {
  /** Kyverno's `Policy <name> failed: <message>` / `Policy <name> error: <message>`, for Deny policies. */
  denials: string[];
  /** The same lines for Warn policies, plus errors let through by failurePolicy Ignore. */
  warnings: string[];
}

/**
 * Kyverno's ivpol webhook response: a Deny policy that failed (or errored under failurePolicy
 * Fail) denies; a Warn policy's failure becomes an admission warning; Audit only reports.
 */
export function ivpResponse(results: readonly IvpResult[]): IvpResponse {
  const denials: string[] = [];
  const warnings: string[] = [];
  for (const r of results) {
    if (r.status === 'pass') continue;
    const line = `Policy ${r.policy} ${r.status === 'fail' ? 'failed' : 'error'}: ${r.message}`;
    if (r.status === 'error' && r.failurePolicy === 'Ignore') {
      warnings.push(`${line} (failurePolicy Ignore: admitted unverified)`);
      continue;
    }
    if (r.actions.has('Deny')) denials.push(line);
    if (r.actions.has('Warn')) warnings.push(line);
  }
  return { denials, warnings };
}

/** The denial message: Kyverno combines the policies' errors with multierr ("; "). */
export function ivpDenialMessage(denials: readonly string[]): string {
  return denials.join('; ');
}
