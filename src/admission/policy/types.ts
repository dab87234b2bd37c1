import type { TufSource } from '../../tuf/client.js';
/**
 * The normalized, validated form every policy file is loaded into. Kyverno ClusterPolicy /
 * Policy `verifyImages` rules and ImageValidatingPolicies both become `ImagePolicy` objects;
 * the engine never sees raw YAML.
 */

import type { CompiledIvp } from '../ivp/types.js';

export type FailureAction = 'Enforce' | 'Audit';
export type FailurePolicy = 'Fail' | 'Ignore';

/** A compiled Kyverno wildcard (`*` any run of characters, including `/` and `:`; `?` one character). */
export interface Wildcard {
  readonly pattern: string;
}

/** One acceptable certificate identity; every field that is set must match. */
export interface IdentityMatcher {
  /** Exact SAN value; Kyverno allows wildcards here (`*@example.com`). */
  subject?: Wildcard;
  subjectRegExp?: RegExp;
  /**
   * True when the subject pattern spells a URI (`https://…`): it is then matched against URI SANs
   * only, so an otherName or email SAN that happens to read like a workflow URI cannot satisfy it.
   */
  subjectIsUri?: boolean;
  issuer?: string;
  issuerRegExp?: RegExp;
}

export interface RekorOptions {
  url?: string;
  /** PEM public key of a private log; stands in for the trusted root's tlog keys. */
  pubkey?: string;
  /** Kyverno's name for skipping the transparency-log check (unsafe). */
  ignoreTlog: boolean;
}

export interface CtlogOptions {
  /** PEM public key of the CT log. */
  pubkey?: string;
  /** Kyverno's name for skipping the SCT check (unsafe). */
  ignoreSCT: boolean;
  /**
   * IVP `ctlog.tsaCertChain`: PEM chain of an RFC 3161 timestamp authority (leaf optional, root
   * required). When set a verified timestamp from it is required (cosign's UseSignedTimestamps).
   */
  tsaCertChain?: string;
}

/**
 * IVP `cosign.tuf`: the attestor's trusted root is the `trusted_root.json` target of this TUF
 * repository (updated from its root), never the server's; the policy's own keys still apply on top.
 */
export type TufRootSource = TufSource;

export interface KeylessAttestor {
  kind: 'keyless';
  /** Any one identity suffices. Never empty. */
  identities: IdentityMatcher[];
  /** Fulcio extension short name (githubWorkflowTrigger, …) or OID → exact value. */
  additionalExtensions: Record<string, string>;
  /** PEM CA certificates; stands in for the trusted root's certificate authorities. */
  roots?: string;
  rekor: RekorOptions;
  ctlog: CtlogOptions;
  tuf?: TufRootSource;
}

export interface KeyAttestor {
  kind: 'keys';
  /** One PEM public key (Kyverno's `publicKeys` with several keys becomes several entries). */
  publicKey: string;
  rekor: RekorOptions;
  ctlog: CtlogOptions;
  tuf?: TufRootSource;
}

/**
 * IVP `cosign.certificate`: the signature is verified with the certificate's key (cosign
 * `--certificate`); with `chain` the certificate must chain to its last certificate (root) at
 * its notBefore, with codeSigning, and carry a verified SCT unless ctlog.ignoreSCT.
 */
export interface CertificateAttestor {
  kind: 'certificate';
  /** One PEM certificate. */
  certificate: string;
  /** PEM CA certificates, the signing certificate's parent first, the root last. */
  chain?: string;
  rekor: RekorOptions;
  ctlog: CtlogOptions;
  tuf?: TufRootSource;
}

/** The attestors that check signatures themselves (everything but a nested set). */
export type SigningAttestor = KeylessAttestor | KeyAttestor | CertificateAttestor;

export interface NestedAttestor {
  kind: 'attestor';
  set: AttestorSet;
}

export type Attestor = SigningAttestor | NestedAttestor;

export interface AttestorEntry {
  /** Index in the policy's `entries` list (several keys of one entry share it). */
  index: number;
  attestor: Attestor;
}

export interface AttestorSet {
  /** How many entries must verify; undefined = all of them. */
  count?: number;
  entries: AttestorEntry[];
}

export type ResourceKind =
  | 'Pod'
  | 'Deployment'
  | 'StatefulSet'
  | 'DaemonSet'
  | 'ReplicaSet'
  | 'ReplicationController'
  | 'Job'
  | 'CronJob';

/** `[group/][version/]Kind[/subresource]` as Kyverno's ParseKindSelector splits it; each part a wildcard. */
export interface KindSelector {
  group: string;
  version: string;
  kind: string;
  subresource: string;
}

export interface LabelRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values: string[];
}

/** metav1.LabelSelector; matchLabels keys and values may hold Kyverno wildcards. */
export interface LabelSelector {
  matchLabels: [string, string][];
  matchExpressions: LabelRequirement[];
}

export interface Subject {
  kind: 'User' | 'Group' | 'ServiceAccount';
  name: string;
  namespace: string;
}

/** One Kyverno ResourceFilter: the AND of every condition that is set (undefined = not set). */
export interface ResourceFilter {
  kinds?: KindSelector[];
  names?: string[];
  namespaces?: string[];
  annotations?: [string, string][];
  selector?: LabelSelector;
  operations?: string[];
  subjects?: Subject[];
}

/**
 * A `match` or `exclude` block: `any` = OR over filters, `all` = AND, `one` = the legacy
 * top-level `resources` + user info, read as one filter.
 */
export interface FilterBlock {
  mode: 'any' | 'all' | 'one';
  filters: ResourceFilter[];
}

export interface ResourceMatch {
  match: FilterBlock;
  exclude?: FilterBlock;
}

/** A Kubernetes secret reference; no namespace = the webhook's own (Kyverno's namespace). */
export interface SecretRef {
  namespace?: string;
  name: string;
}

/** Kyverno's imageRegistryCredentials / IVPOL credentials, as far as sigil evaluates them. */
export interface RegistryCredentialsSpec {
  secrets: SecretRef[];
}

export interface ImageRule {
  name: string;
  /**
   * Where this verifyImages entry sits in its policy (`rules[0].verifyImages[1]`, autogen
   * variants suffixed): with the policy's content hash it is the entry's identity in the
   * verification cache and the in-flight coalescing map, so two entries of one rule never share
   * a verdict.
   */
  id: string;
  match: ResourceMatch;
  imageReferences: Wildcard[];
  skipImageReferences: Wildcard[];
  failureAction: FailureAction;
  attestorSets: AttestorSet[];
  mutateDigest: boolean;
  verifyDigest: boolean;
  required: boolean;
  useCache: boolean;
  /** Set when the entry names registry credentials (even none): then the defaults are not used. */
  registryCredentials?: RegistryCredentialsSpec;
  /** The resource's imagePullSecrets are used too (ClusterPolicy and Policy, as Kyverno; not IVPOL). */
  podPullSecrets?: boolean;
  /** `type: SigstoreBundle`: only Sigstore bundles (OCI 1.1 referrers / fallback tag) count. */
  bundlesOnly?: boolean;
}

export interface ImagePolicy {
  kind: 'ClusterPolicy' | 'Policy' | 'ImageValidatingPolicy' | 'NamespacedImageValidatingPolicy';
  name: string;
  /** Set for namespaced kinds: the policy applies only to resources of this namespace. */
  namespace?: string;
  /** Stable identity of this exact policy content (name + SHA-256 of the normalized spec); keys the cache. */
  id: string;
  /** Per-policy failure policy when the document sets one; else the server's default applies. */
  failurePolicy?: FailurePolicy;
  rules: ImageRule[];
  /** Where it was loaded from, for messages. */
  source: string;
  /** An ImageValidatingPolicy with CEL `validations`, decided by src/admission/ivp (then `rules` is empty). */
  ivp?: CompiledIvp;
}

/** Bounds applied while loading, so a hostile or mistaken file cannot exhaust the server. */
export const POLICY_LIMITS = {
  maxDocuments: 1000,
  maxRulesPerPolicy: 100,
  maxPatterns: 200,
  maxPatternLength: 512,
  maxRegexLength: 1024,
  maxAttestorSets: 20,
  maxEntries: 50,
  maxNestingDepth: 3,
  maxPemBytes: 64 * 1024,
  maxFileBytes: 4 * 1024 * 1024,
} as const;
