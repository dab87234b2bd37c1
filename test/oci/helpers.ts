import { policyYaml } from '../../src/demo/policy.js';
import { createSigning } from '../../src/sign/index.js';
import type { Stack } from '../e2e/stack.js';

export const WORKFLOW_RE = '^https://github.com/org/repo/.github/workflows/CI-CD.yml@.*';
export const SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';
export const BUNDLE_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

/** A keyless signer of the stack (CA + log), its token minted with these claim overrides. */
export async function keylessBuilder(stack: Stack, overrides: Record<string, unknown> = {}) {
  return createSigning({
    key: {
      kind: 'keyless',
      caUrl: stack.ca.url,
      tokens: { token: await stack.oidc.mint(overrides), env: {} },
    },
    logUrl: stack.log.url,
  }).builder;
}

/** The seed's ClusterPolicy shape: Enforce, one keyless attestor, for these image patterns. */
export function clusterPolicy(
  patterns: string[],
  identity: { subject?: string; subjectRegExp?: string; issuer: string; rekorUrl?: string },
  /** More fields of the verifyImages entry, as YAML lines (e.g. `type: SigstoreBundle`). */
  entry: string[] = [],
): string {
  return policyYaml({
    images: patterns,
    ...(identity.subject
      ? { subject: identity.subject }
      : { subjectRegExp: identity.subjectRegExp ?? WORKFLOW_RE }),
    issuer: identity.issuer,
    ...(identity.rekorUrl ? { rekorUrl: identity.rekorUrl } : {}),
    entryLines: entry,
  });
}
