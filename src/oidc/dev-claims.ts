import { randomBytes, randomUUID } from 'node:crypto';

export const DEV_TOKEN_LIFETIME_SECONDS = 600;
export const DEV_REPOSITORY = 'org/repo';
export const DEV_WORKFLOW_PATH = '.github/workflows/CI-CD.yml';

/**
 * Claims shaped like a GitHub Actions OIDC token (seed §3), carrying every claim that
 * Fulcio's github-workflow mapping requires. Overrides replace or add claims; a value of
 * null removes a claim.
 */
export function devClaims(
  issuer: string,
  audience: string,
  overrides: Record<string, unknown> = {},
  nowSeconds = Math.floor(Date.now() / 1000),
): Record<string, unknown> {
  const ref = 'refs/heads/main';
  const sha = randomBytes(20).toString('hex');
  const claims: Record<string, unknown> = {
    iss: issuer,
    sub: `repo:${DEV_REPOSITORY}:ref:${ref}`,
    aud: audience,
    jti: randomUUID(),
    iat: nowSeconds,
    nbf: nowSeconds,
    exp: nowSeconds + DEV_TOKEN_LIFETIME_SECONDS,
    ref,
    ref_type: 'branch',
    sha,
    repository: DEV_REPOSITORY,
    repository_id: '123456789',
    repository_owner: 'org',
    repository_owner_id: '987654321',
    repository_visibility: 'public',
    actor: 'dev',
    actor_id: '1',
    workflow: 'CI-CD',
    workflow_ref: `${DEV_REPOSITORY}/${DEV_WORKFLOW_PATH}@${ref}`,
    workflow_sha: sha,
    job_workflow_ref: `${DEV_REPOSITORY}/${DEV_WORKFLOW_PATH}@${ref}`,
    job_workflow_sha: sha,
    event_name: 'push',
    run_id: '1234567890',
    run_number: '1',
    run_attempt: '1',
    runner_environment: 'github-hosted',
  };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === null) delete claims[k];
    else claims[k] = v;
  }
  return claims;
}

/** Parses `key=value` CLI claim overrides: true/false become booleans, exp/iat/nbf numbers. */
export function parseClaimArgs(args: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const arg of args) {
    const i = arg.indexOf('=');
    if (i <= 0) throw new Error(`claim "${arg}" is not key=value`);
    const key = arg.slice(0, i);
    const raw = arg.slice(i + 1);
    if (raw === 'true' || raw === 'false') out[key] = raw === 'true';
    else if (['exp', 'iat', 'nbf'].includes(key) && /^-?\d+$/.test(raw)) out[key] = Number(raw);
    else out[key] = raw;
  }
  return out;
}
