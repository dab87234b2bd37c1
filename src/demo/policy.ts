/** The identity the demo's CI job signs as, and the one policy-breaking workflow. */
export const DEMO_REPOSITORY = 'org/repo';
export const CI_WORKFLOW = '.github/workflows/CI-CD.yml';
export const OTHER_WORKFLOW = '.github/workflows/nightly.yml';
/** seed §7: subjectRegExp on the workflow file, any ref. */
export const SUBJECT_REGEXP = `^https://github\\.com/${DEMO_REPOSITORY}/${CI_WORKFLOW.replace(/\./g, '\\.')}@refs/heads/.*$`;

/** What varies between the Kyverno ClusterPolicies the demo, the tests and the benches write. */
export interface PolicyYamlOptions {
  /** imageReferences patterns. */
  images: readonly string[];
  /** The keyless identity: an exact subject, or a subject pattern. */
  subject?: string;
  subjectRegExp?: string;
  issuer: string;
  /** The attestor's rekor.url (omitted: none). */
  rekorUrl?: string;
  name?: string;
  ruleName?: string;
  /** spec.webhookConfiguration.timeoutSeconds (omitted: none). */
  timeoutSeconds?: number;
  mutateDigest?: boolean;
  /** More fields of the verifyImages entry, as YAML lines (e.g. `type: SigstoreBundle`). */
  entryLines?: readonly string[];
}

/**
 * A Kyverno ClusterPolicy of seed §7's shape: pods whose images match `images` need one keyless
 * signature by `issuer` (Enforce). Scalars are written as JSON strings, which YAML reads as they are.
 */
export function policyYaml(o: PolicyYamlOptions): string {
  const q = (v: string): string => JSON.stringify(v);
  const identity =
    o.subject !== undefined ? `subject: ${q(o.subject)}` : `subjectRegExp: ${q(o.subjectRegExp ?? '.*')}`;
  const lines = [
    'apiVersion: kyverno.io/v1',
    'kind: ClusterPolicy',
    'metadata:',
    `  name: ${o.name ?? 'check-images'}`,
    'spec:',
    ...(o.timeoutSeconds !== undefined
      ? ['  webhookConfiguration:', `    timeoutSeconds: ${o.timeoutSeconds}`]
      : []),
    '  rules:',
    `    - name: ${o.ruleName ?? 'check-signature'}`,
    '      match:',
    '        any:',
    '          - resources:',
    '              kinds: [Pod]',
    '      verifyImages:',
    `        - imageReferences: [${o.images.map(q).join(', ')}]`,
    '          failureAction: Enforce',
    ...(o.mutateDigest ? ['          mutateDigest: true'] : []),
    ...(o.entryLines ?? []).map((l) => `          ${l}`),
    '          attestors:',
    '            - entries:',
    '                - keyless:',
    `                    ${identity}`,
    `                    issuer: ${q(o.issuer)}`,
    ...(o.rekorUrl ? ['                    rekor:', `                      url: ${q(o.rekorUrl)}`] : []),
  ];
  return `${lines.join('\n')}\n`;
}

/** The demo's policy: pods whose images match `<registry>/shop/rs-*` need a CI-CD.yml signature. */
export function demoPolicyYaml(registryHost: string, issuer: string, rekorUrl: string): string {
  return policyYaml({
    name: 'verify-robot-shop-images',
    ruleName: 'check-ci-signature',
    timeoutSeconds: 10,
    images: [`${registryHost}/shop/rs-*`],
    mutateDigest: true,
    subjectRegExp: SUBJECT_REGEXP,
    issuer,
    rekorUrl,
  });
}
