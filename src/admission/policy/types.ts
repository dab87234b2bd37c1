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
}

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
}

export interface KeyAttestor {
  kind: 'keys';
  /** One PEM public key (Kyverno's `publicKeys` with several keys becomes several entries). */
  publicKey: string;
  rekor: RekorOptions;
  ctlog: CtlogOptions;
}

export interface NestedAttestor {
  kind: 'attestor';
  set: AttestorSet;
}

export type Attestor = KeylessAttestor | KeyAttestor | NestedAttestor;

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

export interface ResourceMatch {
  /** Kinds the rule applies to (after Kyverno's autogen expansion of Pod rules). */
  kinds: ReadonlySet<ResourceKind>;
  /** Namespaces the rule is limited to (empty = all). Wildcards allowed. */
  namespaces: Wildcard[];
  excludeNamespaces: Wildcard[];
  excludeKinds: ReadonlySet<ResourceKind>;
}

export interface ImageRule {
  name: string;
  match: ResourceMatch;
  imageReferences: Wildcard[];
  skipImageReferences: Wildcard[];
  failureAction: FailureAction;
  attestorSets: AttestorSet[];
  mutateDigest: boolean;
  verifyDigest: boolean;
  required: boolean;
  useCache: boolean;
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
