/**
 * The seed's ClusterPolicy (a keyless identity: the CI-CD workflow of org/repo, the dev
 * issuer, the stack's log) and its ImageValidatingPolicy equivalent, as the tests and
 * bench:admission write them.
 */
import { clusterPolicy, WORKFLOW_RE } from '../../oci/helpers.js';

export { WORKFLOW_RE };

export interface SeedIdentity {
  issuer: string;
  logUrl: string;
}

export function seedClusterPolicy(
  pattern: string,
  id: SeedIdentity,
  opts: { mutateDigest?: boolean; verifyDigest?: boolean } = {},
): string {
  return clusterPolicy([pattern], { issuer: id.issuer, rekorUrl: id.logUrl }, [
    ...(opts.mutateDigest === false ? ['mutateDigest: false'] : []),
    ...(opts.verifyDigest === false ? ['verifyDigest: false'] : []),
  ]);
}

/** `attestors:` with one keyless cosign attestor named `ci` (two-space indented, for a spec). */
export function seedAttestor(id: SeedIdentity): string {
  return `  attestors:
    - name: ci
      cosign:
        keyless:
          identities:
            - issuer: "${id.issuer}"
              subjectRegExp: "${WORKFLOW_RE}"
        ctlog:
          url: ${id.logUrl}
`;
}

/** The seed's ClusterPolicy as an ImageValidatingPolicy: every container and initContainer signed by `ci`. */
export function seedIvp(glob: string, id: SeedIdentity): string {
  return `apiVersion: policies.kyverno.io/v1
kind: ImageValidatingPolicy
metadata:
  name: check-images
spec:
  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: ["v1"]
        operations: ["CREATE", "UPDATE"]
        resources: ["pods"]
  matchImageReferences:
    - glob: "${glob}"
${seedAttestor(id)}  validations:
    - expression: >-
        images.containers.map(i, verifyImageSignatures(i, [attestors.ci])).all(e, e > 0) &&
        images.initContainers.map(i, verifyImageSignatures(i, [attestors.ci])).all(e, e > 0)
      message: failed to verify image signatures
`;
}
