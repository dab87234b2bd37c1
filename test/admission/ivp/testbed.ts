import assert from 'node:assert/strict';
import type { TrustedRoot } from '../../../src/bundle/index.js';
import { parsePolicyText } from '../../../src/admission/policy/index.js';
import { createAdmissionServer, type AdmissionServer } from '../../../src/admission/server.js';
import { registryImageSource, SigstoreSignatureVerifier } from '../../../src/admission/real-verifier.js';
import { RegistryClient } from '../../../src/oci/index.js';
import { pod, postJson, review } from '../helpers.js';

/** `text` with every line indented by `n` spaces (for a YAML block scalar or a nested block). */
export const indent = (text: string, n: number): string =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => `${' '.repeat(n)}${l}`)
    .join('\n');

/** `spec.matchConstraints` of an ImageValidatingPolicy on pod creation. */
export const MATCH_PODS = `  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: ["v1"]
        operations: ["CREATE"]
        resources: ["pods"]
`;

/** The head of an ImageValidatingPolicy `name` on pod creation, up to and with matchConstraints. */
export const ivpHead = (name: string): string => `apiVersion: policies.kyverno.io/v1
kind: ImageValidatingPolicy
metadata:
  name: ${name}
spec:
${MATCH_PODS}`;

/** `spec.attestors` with one keyless attestor `ci` (issuer https://issuer.example, ci@example.com). */
export const ATTESTOR_CI = `  attestors:
    - name: ci
      cosign:
        keyless:
          identities:
            - issuer: https://issuer.example
              subject: ci@example.com
`;

/** An ImageValidatingPolicy on pods matching `glob` with one cosign attestor `a` (YAML under `cosign:`). */
export function ivp(name: string, glob: string, attestor: string, validation: string, extra = ''): string {
  return `${ivpHead(name)}  validationConfigurations:
    mutateDigest: false
    verifyDigest: false
  matchImageReferences:
    - glob: "${glob}"
  attestors:
    - name: a
      cosign:
${indent(attestor, 8)}
${extra}  validations:
    - expression: >-
        ${validation}
      message: not verified
`;
}

/** Every container image signed as attestor `a` requires. */
export const SIGNED = 'images.containers.map(i, verifyImageSignatures(i, [attestors.a])).all(e, e > 0)';

export interface Answer {
  allowed: boolean;
  status?: { message: string };
}

/**
 * Admission servers verifying against `root`, each pushed to `servers` (closed by the testbed):
 * `make` starts one for a policy; `decide` asks one started for `yaml` about a pod of `image`.
 */
export function admissionFor(servers: AdmissionServer[], root: TrustedRoot, timeoutMs = 8000) {
  const make = async (yaml: string): Promise<AdmissionServer> => {
    const s = await createAdmissionServer({
      policies: parsePolicyText(yaml, 'policy.yaml', { hasTrustedRoot: true }),
      source: registryImageSource(new RegistryClient({ timeoutMs: 5000 })),
      verifier: new SigstoreSignatureVerifier(root),
      port: 0,
      timeoutMs,
      logLevel: 'silent',
    });
    servers.push(s);
    return s;
  };
  const ask = async (s: AdmissionServer, image: string): Promise<Answer> => {
    const r = await postJson(`${s.url}/validate`, review('Pod', pod('p', [image])), s.caPem!);
    assert.equal(r.status, 200, r.text);
    return (r.body as { response: Answer }).response;
  };
  const decide = async (yaml: string, image: string): Promise<Answer> => ask(await make(yaml), image);
  return { make, ask, decide };
}
