import type { CosignSignatureLayer } from '../bundle/index.js';
import { SigilError } from '../errors/index.js';
import type { ImageReference } from '../oci/index.js';
import type { VerificationCache } from './cache.js';
import type { ImageRule } from './policy/types.js';
import type { ImageSource, RegistryAccess } from './verifier.js';

/** Rejects when the signal aborts, whatever `p` does. */
export function raceSignal<T>(p: Promise<T>, signal: AbortSignal, timeoutMs: number): Promise<T> {
  if (signal.aborted) return Promise.reject(timeoutError(timeoutMs));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(timeoutError(timeoutMs));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

export function timeoutError(ms: number): SigilError {
  return new SigilError('TIMEOUT', `verification did not finish within ${ms} ms`);
}

/**
 * The request's time budget. The AbortSignal (and its timer) is made on first use only: a
 * request answered wholly from the caches never needs one.
 */
export class Deadline {
  private made: AbortSignal | undefined;
  constructor(
    readonly timeoutMs: number,
    private readonly outer: AbortSignal | undefined,
  ) {}

  get signal(): AbortSignal {
    if (!this.made) {
      const own = AbortSignal.timeout(this.timeoutMs);
      this.made = this.outer ? AbortSignal.any([this.outer, own]) : own;
    }
    return this.made;
  }
}

/** The registry credentials of one rule for one resource, and their identity ('' = the defaults). */
export interface Access {
  access?: RegistryAccess;
  key: string;
}

/**
 * Kyverno's registry client choice (factories/registryclientfactory.go): with neither the
 * entry's imageRegistryCredentials nor imagePullSecrets on the resource, the defaults; else
 * exactly the entry's secrets then the resource's (those in the resource's namespace).
 */
export function registryAccess(
  rule: Pick<ImageRule, 'registryCredentials' | 'podPullSecrets'>,
  pullSecrets: readonly string[],
  namespace: string,
): RegistryAccess | undefined {
  const pod = rule.podPullSecrets ? pullSecrets : [];
  if (!rule.registryCredentials && pod.length === 0) return undefined;
  return {
    secrets: [
      ...(rule.registryCredentials?.secrets ?? []),
      ...pod.map((name) => (namespace ? { namespace, name } : { name })),
    ],
  };
}

/** Per-request memo: each registry question is asked once per admission request (maps made on first use). */
export class RequestMemo {
  private digestMemo: Map<string, Promise<string>> | undefined;
  private layerMemo: Map<string, Promise<CosignSignatureLayer[]>> | undefined;
  constructor(
    private readonly source: ImageSource,
    private readonly deadline: Deadline,
  ) {}

  /**
   * The digest `ref` names, asked once per request and set of registry credentials: every rule of
   * the request sees the same answer. With `tagCache` the answer may be a remembered one (only
   * where it gets pinned).
   */
  resolve(ref: ImageReference, access: Access, tagCache?: VerificationCache<string>): Promise<string> {
    const key = `${access.key}|${ref.toString()}`;
    const digests = (this.digestMemo ??= new Map());
    let p = digests.get(key);
    if (!p) {
      const fresh = (): Promise<string> =>
        this.source.resolveDigest(ref, this.deadline.signal, access.access);
      const hit = tagCache?.lookup(key);
      p =
        hit !== undefined
          ? Promise.resolve(hit)
          : tagCache
            ? tagCache.getOrCompute(key, fresh, () => true).then((r) => r.value)
            : fresh();
      p.catch(() => undefined);
      digests.set(key, p);
    }
    return p;
  }

  signatures(pinned: ImageReference, access: Access): Promise<CosignSignatureLayer[]> {
    const key = `${access.key}|${pinned.context()}@${pinned.digest}`;
    const layers = (this.layerMemo ??= new Map());
    let p = layers.get(key);
    if (!p) {
      p = this.source.fetchSignatures(pinned, this.deadline.signal, access.access);
      p.catch(() => undefined);
      layers.set(key, p);
    }
    return p;
  }
}
