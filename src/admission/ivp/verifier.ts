import { createHash } from 'node:crypto';
import type { CosignSignatureLayer, TrustedRoot } from '../../bundle/index.js';
// Not tuf/index.js: that would load @tufjs/models (the repository builder) with every webhook.
import { TufTrustedRoots } from '../../tuf/trusted-roots.js';
import { emptyRoot } from '../attestor-trust.js';
import { SigilError } from '../../errors/index.js';
import { type ImageReference, type RegistryClient } from '../../oci/index.js';
import type { AttachedLayer } from '../../oci/cosign.js';
import { VerificationCache } from '../cache.js';
import { cachedReference } from './refs.js';
import { registryImageSource } from '../real-verifier.js';
import type { ImageSource, RegistryAccess, SignatureLookup, SignatureVerifier } from '../verifier.js';
import type { SigningAttestor } from '../policy/types.js';
import type { IvpVerifier } from './evaluate.js';
import type { CompiledIvp, IvpAttestation, IvpAttestor } from './types.js';

/** One OCI 1.1 referrer of an artifactType: its manifest digest and its one layer's bytes. */
export interface FoundReferrer {
  digest: string;
  payload: Buffer;
}

/** The registry side an IVP needs: ClusterPolicy's ImageSource plus cosign `.att` layers and referrers. */
export interface IvpImageSource extends ImageSource {
  fetchAttestations(
    pinned: ImageReference,
    signal: AbortSignal,
    access?: RegistryAccess,
    lookup?: SignatureLookup,
  ): Promise<AttachedLayer[]>;
  /** Referrers of `pinned` whose artifactType is `artifactType` (bounded), each with its one layer. */
  fetchReferrers?(
    pinned: ImageReference,
    artifactType: string,
    signal: AbortSignal,
    access?: RegistryAccess,
  ): Promise<FoundReferrer[]>;
}

export interface IvpSignatureVerifier extends SignatureVerifier {
  verifyAttestations(
    pinned: ImageReference,
    layers: readonly AttachedLayer[],
    attestor: SigningAttestor,
    predicateType: string,
    trustedRoot?: TrustedRoot,
  ): { ok: true; statements: unknown[] } | { ok: false; reason: string };
}

/** The trusted root an attestor verifies with (undefined: the verifier's own), and what verdicts reached with it are keyed by. */
interface AttestorRoot {
  root: TrustedRoot | undefined;
  tag: string;
}
/** The verifier's own root; the empty root of a key or certificate attestor ignoring the log. */
const OWN_ROOT: AttestorRoot = { root: undefined, tag: '' };
const NO_TRUST: AttestorRoot = { root: emptyRoot(), tag: '' };
const ROOT_TAGS = new WeakMap<TrustedRoot, string>();

/** A TUF root's content, as a cache key part: a verdict reached with one root is not another's. */
function tufRootTag(root: TrustedRoot): AttestorRoot {
  let tag = ROOT_TAGS.get(root);
  if (!tag) {
    tag = `|tuf:${createHash('sha256').update(JSON.stringify(root)).digest('hex')}`;
    ROOT_TAGS.set(root, tag);
  }
  return { root, tag };
}

/**
 * An attestor's root when known without I/O: none of its own (the verifier's), the empty root of
 * a key or certificate attestor that ignores the log (Kyverno opts.go skipSigstoreInfra: no
 * Sigstore trust, no fetch), or its `tuf` repository's root as last fetched and still fresh.
 */
function knownRoot(a: SigningAttestor, roots: TufTrustedRoots): AttestorRoot | undefined {
  if (!a.tuf) return OWN_ROOT;
  if (a.kind !== 'keyless' && a.rekor.ignoreTlog) return NO_TRUST;
  const root = roots.peek(a.tuf);
  return root && tufRootTag(root);
}

export function registryIvpSource(client: RegistryClient): IvpImageSource {
  return registryImageSource(client);
}

/** The IVP seams over a ClusterPolicy engine's source and verifier, when they can check attestations. */
export function ivpVerificationFor(
  source: ImageSource,
  verifier: SignatureVerifier,
  cache?: VerificationCache<unknown>,
): IvpVerification | undefined {
  const s = source as Partial<IvpImageSource>;
  const v = verifier as Partial<IvpSignatureVerifier>;
  if (typeof s.fetchAttestations !== 'function' || typeof v.verifyAttestations !== 'function')
    return undefined;
  return new IvpVerification(source as IvpImageSource, verifier as IvpSignatureVerifier, cache);
}

function race<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new SigilError('TIMEOUT', 'verification deadline exceeded'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new SigilError('TIMEOUT', 'verification deadline exceeded'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

const PINNED_KEYS = new WeakMap<ImageReference, Map<IvpAttestor, { where: string; key: string }>>();

/**
 * The cache key of a signature check of a digest-pinned reference, kept per reference and
 * attestor: the same string object every review, so the cache lookup does not build and hash a
 * new one (that was half the IVP's warm review).
 */
function pinnedSignatureKey(policy: CompiledIvp, a: IvpAttestor, where: string, ref: ImageReference): string {
  let byAttestor = PINNED_KEYS.get(ref);
  if (!byAttestor) PINNED_KEYS.set(ref, (byAttestor = new Map()));
  const known = byAttestor.get(a);
  if (known && known.where === where) return known.key;
  const key = `${policy.id}|sig|${a.name}|${where}|${ref.context()}@${ref.digest}`;
  byAttestor.set(a, { where, key });
  return key;
}

/**
 * Verification for IVP evaluations, sharing ClusterPolicy's cache discipline: successes only,
 * keyed by policy identity, function, attestor and image digest, with identical verifications
 * in flight coalesced. `forRequest` gives the per-request seam (tag → digest asked once, so
 * the digest verified is the digest pinned).
 */
export class IvpVerification {
  constructor(
    private readonly source: IvpImageSource,
    private readonly verifier: IvpSignatureVerifier,
    readonly cache: VerificationCache<unknown> = new VerificationCache<unknown>(),
    private readonly tufRoots: TufTrustedRoots = new TufTrustedRoots(),
  ) {}

  /**
   * `signal` is asked for only when I/O is needed (a review answered from the cache makes no
   * timer). `policy`'s `credentials` (and each attestor's `source.PullSecrets`) replace the
   * webhook's default registry credentials, as in Kyverno; answers are kept apart per credentials.
   */
  forRequest(signal: () => AbortSignal, policy?: CompiledIvp): IvpVerifier {
    const access: RegistryAccess | undefined = policy?.registryCredentials
      ? { secrets: policy.registryCredentials.secrets }
      : undefined;
    const cred = (a: RegistryAccess | undefined): string => this.source.credentialKey?.(a) ?? '';
    const accessOf = (a: IvpAttestor): RegistryAccess | undefined =>
      a.source?.pullSecrets.length ? { secrets: a.source.pullSecrets } : access;
    const lookupOf = (a: IvpAttestor): SignatureLookup | undefined =>
      a.source && (a.source.repository || a.source.tagPrefix)
        ? {
            ...(a.source.repository ? { repository: a.source.repository } : {}),
            ...(a.source.tagPrefix ? { tagPrefix: a.source.tagPrefix } : {}),
          }
        : undefined;
    // Where an attestor's signatures come from: the credentials and the source it reads them with.
    const whereOf = (a: IvpAttestor): string =>
      !a.source && !access
        ? '||'
        : `${cred(accessOf(a))}|${a.source?.repository ?? ''}|${a.source?.tagPrefix ?? ''}`;
    const digests = new Map<string, Promise<string>>();
    const sigs = new Map<string, Promise<CosignSignatureLayer[]>>();
    const atts = new Map<string, Promise<AttachedLayer[]>>();
    const memo = <T>(m: Map<string, Promise<T>>, key: string, f: () => Promise<T>): Promise<T> => {
      let p = m.get(key);
      if (!p) {
        p = race(f(), signal());
        p.catch(() => undefined);
        m.set(key, p);
      }
      return p;
    };
    // Tag → digest answers of this request, once settled (what peekSignatures may use).
    const resolved = new Map<string, string>();
    const pin = async (image: string): Promise<ImageReference> => {
      const ref = cachedReference(image);
      const digest = await memo(digests, `${cred(access)}|${ref.toString()}`, () =>
        this.source.resolveDigest(ref, signal(), access),
      );
      resolved.set(image, digest);
      return ref.withDigest(digest);
    };
    /**
     * An attestor's root, its TUF root fetched when due, within the review's deadline. Null when
     * the TUF repository cannot be read: the attestor is not counted (Kyverno: a cosign option
     * error fails that attestor), the server's root is never used instead, and no verdict
     * cached with an earlier TUF root is used either.
     */
    const rootOf = (a: IvpAttestor): AttestorRoot | Promise<AttestorRoot | null> =>
      knownRoot(a.attestor, this.tufRoots) ??
      race(
        this.tufRoots.get(a.attestor.tuf!).then(tufRootTag, () => null),
        signal(),
      );
    const cached = async <T>(key: string, compute: () => Promise<T>, ok: (v: T) => boolean): Promise<T> => {
      const hit = this.cache.get(key) as T | undefined;
      if (hit !== undefined) return hit;
      return (
        await race(
          this.cache.getOrCompute(key, compute as () => Promise<unknown>, (v) => ok(v as T)),
          signal(),
        )
      ).value as T;
    };
    return {
      peekSignatures: (policy, image, attestors) => {
        let ref: ImageReference;
        try {
          ref = cachedReference(image);
        } catch {
          return undefined;
        }
        const digest = ref.digest ?? resolved.get(image);
        if (!digest) return undefined;
        for (const a of attestors) {
          const known = knownRoot(a.attestor, this.tufRoots);
          if (!known) return undefined;
          const where = whereOf(a) + known.tag;
          const key = ref.digest
            ? pinnedSignatureKey(policy, a, where, ref)
            : `${policy.id}|sig|${a.name}|${where}|${ref.context()}@${digest}`;
          if (this.cache.lookup(key) !== true) return undefined;
        }
        return attestors.length;
      },
      prefetch: async (image) => {
        if (!cachedReference(image).digest) await pin(image);
      },
      resolveDigest: async (image) => (await pin(image)).digest!,
      signatures: async (policy: CompiledIvp, image: string, attestors: readonly IvpAttestor[]) => {
        const pinned = await pin(image);
        let count = 0;
        for (const a of attestors) {
          const r = rootOf(a);
          const trust = r instanceof Promise ? await r : r;
          if (trust === null) continue;
          const where = whereOf(a);
          const key = `${policy.id}|sig|${a.name}|${where}${trust.tag}|${pinned.context()}@${pinned.digest}`;
          const ok = await cached(
            key,
            async () => {
              const layers = await memo(sigs, `${where}|${pinned.context()}@${pinned.digest}`, () =>
                this.source.fetchSignatures(pinned, signal(), accessOf(a), lookupOf(a)),
              );
              if (layers.length === 0) return false;
              return (await this.verifier.verifyAttestor(pinned, layers, a.attestor, trust.root)).ok;
            },
            (v) => v === true,
          );
          if (ok) count++;
        }
        return count;
      },
      attestations: async (policy, image, att: IvpAttestation, attestors) => {
        const pinned = await pin(image);
        let count = 0;
        let payload: unknown;
        for (const a of attestors) {
          const r = rootOf(a);
          const trust = r instanceof Promise ? await r : r;
          if (trust === null) continue;
          const root = trust.root;
          const where = whereOf(a);
          const key = `${policy.id}|att|${att.name}|${a.name}|${where}${trust.tag}|${pinned.context()}@${pinned.digest}`;
          const statements = await cached<unknown[] | false>(
            key,
            async () => {
              if (att.kind === 'referrer')
                return this.referrerPayloads(pinned, att.type, a, signal(), accessOf(a), root);
              const layers = await memo(atts, `${where}|${pinned.context()}@${pinned.digest}`, () =>
                this.source.fetchAttestations(pinned, signal(), accessOf(a), lookupOf(a)),
              );
              const r = this.verifier.verifyAttestations(pinned, layers, a.attestor, att.type, root);
              return r.ok ? r.statements : false;
            },
            (v) => v !== false,
          );
          if (statements) {
            count++;
            payload ??= statements[0];
          }
        }
        return { count, ...(payload !== undefined ? { payload } : {}) };
      },
    };
  }

  /**
   * `referrer {type}` with a cosign attestor: the image's OCI 1.1 referrers of that artifactType,
   * each accepted when a cosign signature on the referrer's own digest verifies (cosign signs the
   * referrer manifest as it signs an image); the payloads of the accepted ones, parsed as JSON.
   * Unlike Kyverno's extractPayload, an unverified referrer's content is never handed to CEL.
   */
  private async referrerPayloads(
    pinned: ImageReference,
    type: string,
    a: IvpAttestor,
    signal: AbortSignal,
    access: RegistryAccess | undefined,
    root: TrustedRoot | undefined,
  ): Promise<unknown[] | false> {
    if (!this.source.fetchReferrers) return false;
    const out: unknown[] = [];
    for (const r of await this.source.fetchReferrers(pinned, type, signal, access)) {
      const ref = pinned.withDigest(r.digest);
      const layers = await this.source.fetchSignatures(ref, signal, access);
      if (layers.length === 0 || !(await this.verifier.verifyAttestor(ref, layers, a.attestor, root)).ok)
        continue;
      try {
        out.push(JSON.parse(r.payload.toString('utf8')) as unknown);
      } catch {
        continue; // Kyverno: a referrer whose layer is not JSON has no payload
      }
    }
    return out.length > 0 ? out : false;
  }
}
