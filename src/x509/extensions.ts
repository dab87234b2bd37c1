import { FULCIO } from './oids.js';
import { utf8String, type Extension } from './build.js';

/** What the Fulcio extensions are rendered from (structurally an oidc Principal). */
export interface ExtensionSource {
  type: string;
  /** Token issuer; must be non-empty. */
  issuer: string;
  subject: string;
  claims: Readonly<Record<string, unknown>>;
}

const GITHUB = 'https://github.com';

/** .1–.6 hold the raw string bytes; .8 and later a DER UTF8String. All non-critical. */
const raw = (oid: string, value: string): Extension => ({
  oid,
  critical: false,
  value: Buffer.from(value, 'utf8'),
});
const der = (oid: string, value: string): Extension => ({ oid, critical: false, value: utf8String(value) });

function claim(claims: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const v = claims[name];
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * The Fulcio extensions (WIRE §1.7) for an identity: issuer (.1 raw and .8 DER) always, the
 * token subject (.24), and for GitHub workflow identities every extension whose claims exist.
 */
export function fulcioExtensions(src: ExtensionSource): Extension[] {
  if (!src.issuer) throw new Error('issuer must not be empty');
  const out: Extension[] = [raw(FULCIO.issuerV1, src.issuer)];
  if (src.type === 'github-workflow') out.push(...githubDeprecated(src.claims));
  out.push(der(FULCIO.issuerV2, src.issuer));
  if (src.type === 'github-workflow') out.push(...githubV2(src.claims));
  if (src.subject) out.push(der(FULCIO.tokenSubject, src.subject));
  return out;
}

function githubDeprecated(c: Readonly<Record<string, unknown>>): Extension[] {
  const pairs: [string, string | undefined][] = [
    [FULCIO.githubWorkflowTrigger, claim(c, 'event_name')],
    [FULCIO.githubWorkflowSha, claim(c, 'sha')],
    [FULCIO.githubWorkflowName, claim(c, 'workflow')],
    [FULCIO.githubWorkflowRepository, claim(c, 'repository')],
    [FULCIO.githubWorkflowRef, claim(c, 'ref')],
  ];
  return pairs.filter((p): p is [string, string] => p[1] !== undefined).map(([o, v]) => raw(o, v));
}

function githubV2(c: Readonly<Record<string, unknown>>): Extension[] {
  const repo = claim(c, 'repository');
  const runId = claim(c, 'run_id');
  const attempt = claim(c, 'run_attempt');
  const prefixed = (v: string | undefined): string | undefined =>
    v === undefined ? undefined : `${GITHUB}/${v}`;
  const pairs: [string, string | undefined][] = [
    [FULCIO.buildSignerURI, prefixed(claim(c, 'job_workflow_ref'))],
    [FULCIO.buildSignerDigest, claim(c, 'job_workflow_sha')],
    [FULCIO.runnerEnvironment, claim(c, 'runner_environment')],
    [FULCIO.sourceRepositoryURI, prefixed(repo)],
    [FULCIO.sourceRepositoryDigest, claim(c, 'sha')],
    [FULCIO.sourceRepositoryRef, claim(c, 'ref')],
    [FULCIO.sourceRepositoryIdentifier, claim(c, 'repository_id')],
    [FULCIO.sourceRepositoryOwnerURI, prefixed(claim(c, 'repository_owner'))],
    [FULCIO.sourceRepositoryOwnerIdentifier, claim(c, 'repository_owner_id')],
    [FULCIO.buildConfigURI, prefixed(claim(c, 'workflow_ref'))],
    [FULCIO.buildConfigDigest, claim(c, 'workflow_sha')],
    [FULCIO.buildTrigger, claim(c, 'event_name')],
    [
      FULCIO.runInvocationURI,
      repo && runId && attempt ? `${GITHUB}/${repo}/actions/runs/${runId}/attempts/${attempt}` : undefined,
    ],
    [FULCIO.sourceRepositoryVisibilityAtSigning, claim(c, 'repository_visibility')],
    [FULCIO.deploymentEnvironment, claim(c, 'environment')],
  ];
  return pairs.filter((p): p is [string, string] => p[1] !== undefined).map(([o, v]) => der(o, v));
}
