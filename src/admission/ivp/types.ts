import type { FailurePolicy, RegistryCredentialsSpec, SecretRef, SigningAttestor } from '../policy/types.js';
import type { CompiledExpression } from './cel.js';
import type { IvpGlob } from './glob.js';

export type ValidationAction = 'Deny' | 'Warn' | 'Audit';
export type IvpKind = 'ImageValidatingPolicy' | 'NamespacedImageValidatingPolicy';

/** `cosign.source`: where this attestor's signatures and attestations are looked up. */
export interface SignatureSource {
  /** `registry/repository` holding them instead of the image's own repository. */
  repository?: string;
  /** Prefix of the cosign tags (`<prefix>sha256-<hex>.sig`). */
  tagPrefix?: string;
  /** `PullSecrets`: credentials for that lookup (mounted pull secrets, as `credentials.secrets`). */
  pullSecrets: SecretRef[];
}

export interface IvpAttestor {
  name: string;
  attestor: SigningAttestor;
  source?: SignatureSource;
}

export interface IvpAttestation {
  name: string;
  /**
   * `intoto`: a cosign in-toto statement of this predicate type (`.att` layers, v3 bundles);
   * `referrer`: OCI 1.1 referrers of this artifactType, each accepted when a cosign signature on
   * the referrer's own digest verifies (the payload is the referrer's one JSON layer).
   */
  kind: 'intoto' | 'referrer';
  type: string;
}

/** One admissionregistration RuleWithOperations. `*` is kept as a literal wildcard entry. */
export interface ResourceRule {
  operations: string[];
  apiGroups: string[];
  apiVersions: string[];
  /** `pods`, `pods/ephemeralcontainers`, `*`, `*\/status`… */
  resources: string[];
  resourceNames: string[];
}

export interface SelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values: string[];
}

export interface LabelSelector {
  matchLabels: Record<string, string>;
  matchExpressions: SelectorRequirement[];
}

export interface MatchConstraints {
  resourceRules: ResourceRule[];
  excludeResourceRules: ResourceRule[];
  namespaceSelector?: LabelSelector;
  objectSelector?: LabelSelector;
}

export type ImageMatcher = { glob: IvpGlob } | { expression: CompiledExpression };

export interface Validation {
  expression: CompiledExpression;
  message?: string;
  messageExpression?: CompiledExpression;
}

/** The expressions of one autogen variant (the pod original, or rewritten for pod controllers). */
export interface Program {
  matchConditions: { name: string; expression: CompiledExpression }[];
  variables: { name: string; expression: CompiledExpression }[];
  images: { name: string; expression: CompiledExpression }[];
  validations: Validation[];
  auditAnnotations: { key: string; expression: CompiledExpression }[];
}

/** Which variant decides a kind: the original (pods), `defaults` (spec.template), `cronjobs`. */
export type Variant = 'pod' | 'defaults' | 'cronjobs';

export interface CompiledIvp {
  kind: IvpKind;
  name: string;
  namespace?: string;
  /** name + hash of the document; keys the verification cache. */
  id: string;
  source: string;
  failurePolicy: FailurePolicy;
  actions: ReadonlySet<ValidationAction>;
  mode: 'Kubernetes' | 'JSON';
  admission: boolean;
  match?: MatchConstraints;
  /** Kinds autogen adds, with the variant that decides each. */
  autogen: ReadonlyMap<string, Variant>;
  programs: Partial<Record<Variant, Program>> & { pod: Program };
  matchImageReferences: ImageMatcher[];
  attestors: ReadonlyMap<string, IvpAttestor>;
  attestations: ReadonlyMap<string, IvpAttestation>;
  mutateDigest: boolean;
  verifyDigest: boolean;
  required: boolean;
  timeoutSeconds?: number;
  /** `credentials`: the registry credentials used instead of the webhook's defaults. */
  registryCredentials?: RegistryCredentialsSpec;
}
