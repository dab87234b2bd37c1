import type { VerificationResult } from '../verify/index.js';

/** The `--json` documents of `sigil verify` and `sigil verify-attestation` (fields: docs/CLI-JSON.md). */
export const IMAGE_VERIFICATION_MEDIA_TYPE = 'application/vnd.sigil.image-verification.v1+json';
export const ATTESTATION_VERIFICATION_MEDIA_TYPE = 'application/vnd.sigil.attestation-verification.v1+json';

type Layout = 'bundle' | 'legacy';
interface Verified {
  result: VerificationResult;
}
interface Attested extends Verified {
  statement: { predicateType?: unknown; subject?: unknown };
}

export function imageVerificationJson(
  image: string,
  digest: string,
  bundles: readonly Verified[],
  legacy: readonly Verified[],
): unknown {
  const one = (layout: Layout) => (v: Verified) => ({ layout, result: v.result });
  return {
    mediaType: IMAGE_VERIFICATION_MEDIA_TYPE,
    verified: true,
    image,
    digest,
    signatures: [...bundles.map(one('bundle')), ...legacy.map(one('legacy'))],
  };
}

export function attestationVerificationJson(
  image: string,
  digest: string,
  bundles: readonly Attested[],
  legacy: readonly Attested[],
): unknown {
  const one = (layout: Layout) => (v: Attested) => ({
    layout,
    ...statementSummary(v.statement),
    result: v.result,
  });
  return {
    mediaType: ATTESTATION_VERIFICATION_MEDIA_TYPE,
    verified: true,
    image,
    digest,
    attestations: [...bundles.map(one('bundle')), ...legacy.map(one('legacy'))],
  };
}

/** The verified statement's predicate type and subjects, typed whatever the payload held. */
function statementSummary(st: Attested['statement']): {
  predicateType: string | null;
  subjects: { name: string | null; digest: Record<string, string> }[];
} {
  const subjects = Array.isArray(st.subject) ? (st.subject as { name?: unknown; digest?: unknown }[]) : [];
  return {
    predicateType: typeof st.predicateType === 'string' ? st.predicateType : null,
    subjects: subjects.map((s) => ({
      name: typeof s?.name === 'string' ? s.name : null,
      digest:
        s?.digest !== null && typeof s?.digest === 'object'
          ? Object.fromEntries(Object.entries(s.digest).filter(([, v]) => typeof v === 'string'))
          : {},
    })),
  };
}
