/** The identity the demo's CI job signs as, and the one policy-breaking workflow. */
export const DEMO_REPOSITORY = 'org/repo';
export const CI_WORKFLOW = '.github/workflows/CI-CD.yml';
export const OTHER_WORKFLOW = '.github/workflows/nightly.yml';
/** seed §7: subjectRegExp on the workflow file, any ref. */
export const SUBJECT_REGEXP = `^https://github\\.com/${DEMO_REPOSITORY}/${CI_WORKFLOW.replace(/\./g, '\\.')}@refs/heads/.*$`;

/** A Kyverno ClusterPolicy like seed §7's: pods whose images match `<registry>/shop/rs-*` need a CI-CD.yml signature. */
export function demoPolicyYaml(registryHost: string, issuer: string, rekorUrl: string): string {
  return `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: verify-robot-shop-images
spec:
  webhookConfiguration:
    timeoutSeconds: 10
  rules:
    - name: check-ci-signature
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
        - imageReferences:
            - "${registryHost}/shop/rs-*"
          failureAction: Enforce
          mutateDigest: true
          attestors:
            - entries:
                - keyless:
                    subjectRegExp: '${SUBJECT_REGEXP}'
                    issuer: "${issuer}"
                    rekor:
                      url: ${rekorUrl}
`;
}
