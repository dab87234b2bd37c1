import { cosignRekorBundleAnnotation } from '../bundle/cosign.js';
import { FULCIO } from '../x509/oids.js';
import type { VerificationResult, VerifiedCosignSignature } from '../verify/index.js';

const WORKFLOW_KEYS = [
  'githubWorkflowTrigger',
  'githubWorkflowSha',
  'githubWorkflowName',
  'githubWorkflowRepository',
  'githubWorkflowRef',
] as const;

/** cosign's `optional` additions for a keyless signature: Subject, Issuer and the GitHub workflow values. */
export function identityFields(result: VerificationResult): Record<string, string> {
  const out: Record<string, string> = {};
  const id = result.identity;
  if (!id) return out;
  if (id.subjectAlternativeNames[0] !== undefined) out.Subject = id.subjectAlternativeNames[0];
  if (id.issuer !== undefined) {
    out.Issuer = id.issuer;
    out[FULCIO.issuerV1] = id.issuer;
  }
  for (const k of WORKFLOW_KEYS) {
    const v = id.extensions[k];
    if (v !== undefined) {
      out[k] = v;
      out[FULCIO[k]] = v;
    }
  }
  return out;
}

/**
 * What `cosign verify` prints on stdout for each verified signature: the simple-signing payload
 * with `optional` augmented by the identity and the Rekor bundle.
 */
export function cosignVerifyOutput(verified: readonly VerifiedCosignSignature[]): unknown[] {
  return verified.map((v) => {
    const payload = { ...(v.payload as Record<string, unknown>) };
    const optional: Record<string, unknown> = {
      ...((payload.optional as Record<string, unknown> | null) ?? {}),
    };
    Object.assign(optional, identityFields(v.result));
    if (v.item.tlogEntry?.inclusionPromise)
      optional.Bundle = JSON.parse(cosignRekorBundleAnnotation(v.item.tlogEntry));
    payload.optional = Object.keys(optional).length > 0 ? optional : null;
    return payload;
  });
}

/** cosign's list of the checks performed (stderr). */
export function checkLines(ref: string, results: readonly VerificationResult[], what = 'signatures'): string {
  const r = results[0];
  const lines = [
    `\nVerification for ${ref} --`,
    `The following checks were performed on each of these ${what}:`,
  ];
  lines.push('  - The cosign claims were validated');
  if (r?.checks.includes('tlog')) {
    lines.push('  - Existence of the claims in the transparency log was verified offline');
  }
  if (r?.mode === 'public-key')
    lines.push('  - The signatures were verified against the specified public key');
  if (r?.mode === 'certificate') {
    lines.push(
      '  - The code-signing certificate was verified using trusted certificate authority certificates',
    );
    if (r.checks.includes('sct'))
      lines.push('  - The certificate carries a verified signed certificate timestamp (SCT)');
    if (r.checks.includes('identity'))
      lines.push('  - The certificate identity and issuer matched the policy');
  }
  for (const u of r?.unsafe ?? []) lines.push(`  - WARNING: check skipped (${u})`);
  return `${lines.join('\n')}\n`;
}
