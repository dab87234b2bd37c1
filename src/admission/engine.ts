import type { CosignSignatureLayer } from '../bundle/index.js';
import { parseReference, type ImageReference } from '../oci/index.js';
import { VerificationCache } from './cache.js';
import { classify, reasonOf } from './outcome.js';
import {
  Deadline,
  raceSignal,
  registryAccess,
  RequestMemo,
  timeoutError,
  type Access,
} from './request-memo.js';
import { decide, type Decision, type ImageResult, type ResourceId, type ResultStatus } from './decision.js';
import { matchApplies, matchRequest } from './applies.js';
import { matchForms } from './policy/image-pattern.js';
import { anyWildcardMatches } from './policy/wildcard.js';
import type { AttestorSet, FailurePolicy, ImagePolicy, ImageRule, ResourceKind } from './policy/types.js';
import { extractImages, extractPullSecrets, isResourceKind, type ContainerImage } from './resources.js';
import { FETCHED, type ImageSource, type SignatureVerifier, type VerifiedSignature } from './verifier.js';
import { decideWithIvp, evaluateIvps, type IvpSeams } from './ivp/engine.js';

export const DEFAULT_TIMEOUT_MS = 8000;
export const DEFAULT_EXCLUDED_NAMESPACES: readonly string[] = ['kube-system'];

export interface EngineOptions {
  policies: readonly ImagePolicy[];
  source: ImageSource;
  verifier: SignatureVerifier;
  /** Namespaces never checked (default kube-system). */
  excludedNamespaces?: readonly string[];
  /** What a registry/log *error* does when the policy does not say (default Fail). */
  failurePolicy?: FailurePolicy;
  /** Every decision is made within this budget, below the API server's 10 s (default 8 s). */
  timeoutMs?: number;
  cache?: VerificationCache<RuleVerdict>;
  /** Short-lived tag → digest answers (see TagDigestCache); absent = every tag is resolved every time. */
  tagCache?: VerificationCache<string>;
  /** What ImageValidatingPolicies verify with (required when any policy is one). */
  ivp?: IvpSeams;
}

/** The admission request fields the engine needs (from AdmissionReview or a CLI resource file). */
export interface AdmissionInput {
  kind: string;
  namespace: string;
  name: string;
  operation: string;
  object: unknown;
  /** For ImageValidatingPolicy CEL: the AdmissionRequest's oldObject, the request itself, the namespace object. */
  oldObject?: unknown;
  request?: unknown;
  namespaceObject?: unknown;
  /** The request's API group and version (default: those of `kind`). */
  group?: string;
  version?: string;
  /** `request.subResource` (e.g. ephemeralcontainers); '' for the resource itself. */
  subresource?: string;
  /** `request.userInfo` (absent in `sigil policy test` unless given). */
  userInfo?: { username: string; groups: readonly string[] };
}

export type Mode = 'mutate' | 'validate';

/** The outcome of one rule for one image digest (what the cache holds, successes only). */
export type RuleVerdict =
  { status: 'pass'; signatures: VerifiedSignature[] } | { status: 'fail' | 'error'; reason: string };

interface ParsedImage {
  ref?: ImageReference;
  /** The normalized reference (docker.io/library/… filled in), or the input when it does not parse. */
  shown: string;
  /** What patterns see (canonical registry; `repo@digest` first, see matchForms). */
  forms?: { primary: string; tagged?: string };
  parseError?: unknown;
}

const MAX_REMEMBERED_REFERENCES = 10_000;

type Outcome = { ok: true; signatures: VerifiedSignature[] } | { ok: false; reason: string };

export { classify } from './outcome.js';
export { registryAccess } from './request-memo.js';

/**
 * The admission engine: for each container image of the object, each applicable rule of each
 * policy is decided as pass / fail / error / skip, then combined by `decide`. Pure except for
 * the two injected seams (registry source, signature verifier).
 */
export class AdmissionEngine {
  readonly policies: readonly ImagePolicy[];
  readonly cache: VerificationCache<RuleVerdict>;
  readonly tagCache: VerificationCache<string> | undefined;
  readonly timeoutMs: number;
  private readonly source: ImageSource;
  private readonly verifier: SignatureVerifier;
  private readonly excluded: ReadonlySet<string>;
  private readonly failurePolicy: FailurePolicy;
  private readonly references = new Map<string, ParsedImage>();
  private readonly ivp: IvpSeams | undefined;

  constructor(opts: EngineOptions) {
    this.policies = opts.policies;
    this.source = opts.source;
    this.verifier = opts.verifier;
    this.excluded = new Set(opts.excludedNamespaces ?? DEFAULT_EXCLUDED_NAMESPACES);
    this.failurePolicy = opts.failurePolicy ?? 'Fail';
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.cache = opts.cache ?? new VerificationCache<RuleVerdict>();
    this.tagCache = opts.tagCache;
    this.ivp = opts.ivp;
  }

  /**
   * parseReference and the normalized form, remembered per image string (references are
   * immutable values; a pod's images repeat from review to review). Bounded: cleared when full.
   */
  private parsed(image: string): ParsedImage {
    let p = this.references.get(image);
    if (!p) {
      try {
        const ref = parseReference(image);
        p = { ref, shown: ref.toString(), forms: matchForms(ref) };
      } catch (e) {
        p = { shown: image, parseError: e };
      }
      if (this.references.size >= MAX_REMEMBERED_REFERENCES) this.references.clear();
      this.references.set(image, p);
    }
    return p;
  }

  async evaluate(input: AdmissionInput, mode: Mode, outer?: AbortSignal): Promise<Decision> {
    const id: ResourceId = { kind: input.kind, namespace: input.namespace, name: input.name };
    const none = (why: string): Decision => ({
      allowed: true,
      warnings: [],
      patch: [],
      results: [],
      skippedBecause: why,
    });
    if (input.operation !== 'CREATE' && input.operation !== 'UPDATE')
      return none(`operation ${input.operation} is not checked`);
    if (this.excluded.has(input.namespace)) return none(`namespace ${input.namespace} is excluded`);
    const ivpResults = await evaluateIvps(this.policies, this.ivp, input, mode, this.timeoutMs, outer);
    if (!isResourceKind(input.kind))
      return decideWithIvp(none(`kind ${input.kind} has no pod spec`), ivpResults);
    const kind: ResourceKind = input.kind;
    const images = extractImages(kind, input.object);
    const pullSecrets = extractPullSecrets(kind, input.object);
    const deadline = new Deadline(this.timeoutMs, outer);
    const memo = new RequestMemo(this.source, deadline);
    const jobs: Promise<ImageResult>[] = [];
    const request = matchRequest(input, kind);
    const applicable: [ImagePolicy, ImageRule][] = [];
    for (const policy of this.policies) {
      if (policy.namespace !== undefined && policy.namespace !== input.namespace) continue;
      for (const rule of policy.rules) if (matchApplies(rule.match, request)) applicable.push([policy, rule]);
    }
    for (const img of images) {
      const tagCache = mode === 'mutate' ? this.tagCacheFor(img, applicable) : undefined;
      for (const [policy, rule] of applicable) {
        const job = this.checkImage(policy, rule, img, mode, memo, deadline, tagCache, () =>
          this.accessOf(rule, pullSecrets, input.namespace),
        );
        if (job) jobs.push(job);
      }
    }
    const results = await Promise.all(jobs);
    return decideWithIvp(decide(id, results, mode === 'mutate'), ivpResults);
  }

  /** Does `rule` verify `img` (imageReferences match, skipImageReferences do not)? */
  private selects(rule: ImageRule, img: ContainerImage): boolean {
    const { forms } = this.parsed(img.image);
    if (!forms) return true;
    const named =
      !!anyWildcardMatches(rule.imageReferences, forms.primary) ||
      !!(forms.tagged && anyWildcardMatches(rule.imageReferences, forms.tagged));
    return named && !anyWildcardMatches(rule.skipImageReferences, forms.primary);
  }

  /**
   * The tag cache serves a tagged image only when every rule that verifies it pins its digest:
   * the pod then runs the one digest all of them verified. One rule that leaves the tag in place
   * (mutateDigest false) means the kubelet pulls what the tag names now, so all resolve afresh.
   */
  private tagCacheFor(
    img: ContainerImage,
    applicable: readonly [ImagePolicy, ImageRule][],
  ): VerificationCache<string> | undefined {
    if (!this.tagCache || this.parsed(img.image).ref?.digest !== undefined) return undefined;
    const selecting = applicable.filter(([, r]) => this.selects(r, img));
    return selecting.length > 0 && selecting.every(([, r]) => r.mutateDigest) ? this.tagCache : undefined;
  }

  private checkImage(
    policy: ImagePolicy,
    rule: ImageRule,
    img: ContainerImage,
    mode: Mode,
    memo: RequestMemo,
    deadline: Deadline,
    tagCache: VerificationCache<string> | undefined,
    accessOf: () => Access,
  ): Promise<ImageResult> | undefined {
    const { ref, shown, forms, parseError } = this.parsed(img.image);
    // Kyverno wildcard over the normalized reference (docker.io/library/… filled in, :latest implied).
    // An image that does not even parse is refused by every rule in scope: it cannot be matched
    // reliably, so it must not slip through as "outside the pattern".
    if (
      forms &&
      !anyWildcardMatches(rule.imageReferences, forms.primary) &&
      !(forms.tagged && anyWildcardMatches(rule.imageReferences, forms.tagged))
    )
      return undefined;
    const base = {
      policy: policy.name,
      rule: rule.name,
      image: img.image,
      pointer: img.pointer,
      failureAction: rule.failureAction,
      failurePolicy: policy.failurePolicy ?? this.failurePolicy,
      mutateDigest: rule.mutateDigest,
    };
    const result = (
      status: ResultStatus,
      message: string,
      extra: Partial<ImageResult> = {},
    ): ImageResult => ({
      ...base,
      status,
      message,
      ...extra,
    });
    if (forms && anyWildcardMatches(rule.skipImageReferences, forms.primary)) {
      return Promise.resolve(
        result(
          'skip',
          `skipping image reference image ${shown}, policy ${policy.name} ruleName ${rule.name}`,
        ),
      );
    }
    if (!ref)
      return Promise.resolve(result('fail', `failed to verify image ${img.image}: ${reasonOf(parseError)}`));
    if (mode === 'validate' && rule.verifyDigest && !ref.digest) {
      return Promise.resolve(result('fail', `missing digest for ${shown}`));
    }
    if (mode === 'validate' && !rule.required)
      return Promise.resolve(result('skip', `verification of ${shown} not required on validate`));
    const pinnedRef = ref;
    const access = accessOf();
    const race = <T>(p: Promise<T>): Promise<T> => raceSignal(p, deadline.signal, this.timeoutMs);
    return (async (): Promise<ImageResult> => {
      let digest: string;
      try {
        // A remembered tag → digest answer only where the patch pins it (see tagCacheFor).
        digest = pinnedRef.digest ?? (await race(memo.resolve(pinnedRef, access, tagCache)));
      } catch (e) {
        return result(classify(e, rule.failureAction), `failed to verify image ${shown}: ${reasonOf(e)}`);
      }
      const pinned = pinnedRef.withDigest(digest);
      const key = `${policy.id}|${rule.id}|${access.key}|${pinned.context()}@${digest}`;
      const compute = (): Promise<RuleVerdict> =>
        this.verifyRule(rule, pinned, !!pinnedRef.digest, memo, access, deadline.signal);
      let verdict: RuleVerdict;
      let cached = false;
      try {
        const hit = rule.useCache ? this.cache.lookup(key) : undefined;
        if (hit) {
          verdict = hit;
          cached = true;
        } else if (rule.useCache) {
          ({ value: verdict, cached } = await race(
            this.cache.getOrCompute(key, compute, (v) => v.status === 'pass'),
          ));
        } else verdict = await race(compute());
      } catch (e) {
        return result(classify(e, rule.failureAction), `failed to verify image ${shown}: ${reasonOf(e)}`);
      }
      if (verdict.status !== 'pass')
        return result(verdict.status, `failed to verify image ${shown}: ${verdict.reason}`);
      return result('pass', cached ? 'verified from cache' : `verified image signatures for ${shown}`, {
        digest,
        cached,
        ...(pinnedRef.digest
          ? {}
          : { pinned: `${pinnedRef.context()}:${pinnedRef.tag ?? 'latest'}@${digest}` }),
      });
    })();
  }

  private accessOf(rule: ImageRule, pullSecrets: readonly string[], namespace: string): Access {
    const access = registryAccess(rule, pullSecrets, namespace);
    if (!access) return { key: '' };
    const key =
      this.source.credentialKey?.(access) ??
      access.secrets.map((r) => `${r.namespace ?? ''}/${r.name}`).join(',');
    return { access, key: key || '-' };
  }

  private async verifyRule(
    rule: ImageRule,
    pinned: ImageReference,
    checkExists: boolean,
    memo: RequestMemo,
    access: Access,
    signal: AbortSignal,
  ): Promise<RuleVerdict> {
    try {
      // A pinned digest must be served by this repository (not merely signed somewhere); that
      // check and the signature fetch run side by side, and the check's answer comes first.
      const exists = checkExists ? memo.resolve(pinned, access) : undefined;
      const fetched = memo.signatures(pinned, access);
      if (exists) await exists;
      const all = await fetched;
      // type: SigstoreBundle reads Sigstore bundles only (Kyverno: the bundle referrers), never .sig.
      const layers = rule.bundlesOnly ? all.filter((l) => l.annotations[FETCHED.kind] === 'bundle') : all;
      if (signal.aborted) throw timeoutError(this.timeoutMs);
      const signatures: VerifiedSignature[] = [];
      for (const [i, set] of rule.attestorSets.entries()) {
        const out = await this.verifySet(set, `.attestors[${i}]`, pinned, layers);
        if (!out.ok) return { status: 'fail', reason: out.reason };
        signatures.push(...out.signatures);
      }
      return { status: 'pass', signatures };
    } catch (e) {
      return { status: classify(e, rule.failureAction), reason: reasonOf(e) };
    }
  }

  private async verifySet(
    set: AttestorSet,
    path: string,
    pinned: ImageReference,
    layers: readonly CosignSignatureLayer[],
  ): Promise<Outcome> {
    const needed = set.count ?? set.entries.length;
    const errors: string[] = [];
    const signatures: VerifiedSignature[] = [];
    let passed = 0;
    for (const { index, attestor } of set.entries) {
      const p = `${path}.entries[${index}]`;
      let out: Outcome;
      if (attestor.kind === 'attestor')
        out = await this.verifySet(attestor.set, `${p}.attestor`, pinned, layers);
      else if (layers.length === 0) out = { ok: false, reason: 'no signatures found' };
      else out = await this.verifier.verifyAttestor(pinned, layers, attestor);
      if (out.ok) {
        signatures.push(...out.signatures);
        if (++passed >= needed) return { ok: true, signatures };
      } else {
        const label = attestor.kind === 'attestor' ? '' : `${p}.${attestor.kind}: `;
        errors.push(`${label}${out.reason}`);
      }
    }
    return { ok: false, reason: errors.join('; ') };
  }
}
