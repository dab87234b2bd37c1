import { SigilError } from '../errors/index.js';

/**
 * Successful verifications, keyed by policy identity (name + content hash), rule and image
 * digest, kept for a TTL in a size-bounded LRU. Failures and errors are never stored (a
 * signature added later must be seen at once); identical verifications in flight are
 * coalesced so a burst of pods with one image costs one registry round.
 */
export const DEFAULT_CACHE_TTL_MS = 60 * 60 * 1000;
export const DEFAULT_CACHE_MAX_ENTRIES = 1000;

export interface CacheOptions {
  ttlMs?: number;
  maxEntries?: number;
  now?: () => number;
}

export interface CacheStats {
  hits: number;
  misses: number;
  coalesced: number;
  size: number;
}

/** A hit moves its entry to the recent end at most this often (LRU, approximately, without two Map writes per hit). */
const RECENCY_REFRESH_MS = 1000;

export class VerificationCache<V> {
  private readonly entries = new Map<string, { value: V; expires: number; refreshed: number }>();
  private readonly inFlight = new Map<string, Promise<V>>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  readonly stats: CacheStats = { hits: 0, misses: 0, coalesced: 0, size: 0 };

  constructor(opts: CacheOptions = {}) {
    this.ttlMs = opts.ttlMs ?? DEFAULT_CACHE_TTL_MS;
    this.maxEntries = opts.maxEntries ?? DEFAULT_CACHE_MAX_ENTRIES;
    this.now = opts.now ?? Date.now;
  }

  get(key: string): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    const now = this.now();
    if (e.expires <= now) {
      this.entries.delete(key);
      this.stats.size = this.entries.size;
      return undefined;
    }
    // Refresh recency: Map iteration order is insertion order, so re-insert.
    if (now - e.refreshed >= RECENCY_REFRESH_MS) {
      e.refreshed = now;
      this.entries.delete(key);
      this.entries.set(key, e);
    }
    return e.value;
  }

  set(key: string, value: V): void {
    if (this.maxEntries <= 0 || this.ttlMs <= 0) return;
    this.entries.delete(key);
    const now = this.now();
    this.entries.set(key, { value, expires: now + this.ttlMs, refreshed: now });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    this.stats.size = this.entries.size;
  }

  /** `get` that counts a hit (the synchronous fast path of getOrCompute; a miss is not counted). */
  lookup(key: string): V | undefined {
    const hit = this.get(key);
    if (hit !== undefined) this.stats.hits++;
    return hit;
  }

  /**
   * The cached value, or the result of `compute` — shared with any identical computation
   * already running. `keep` decides whether a computed value is stored (successes only).
   */
  async getOrCompute(
    key: string,
    compute: () => Promise<V>,
    keep: (v: V) => boolean,
  ): Promise<{ value: V; cached: boolean }> {
    const hit = this.get(key);
    if (hit !== undefined) {
      this.stats.hits++;
      return { value: hit, cached: true };
    }
    const running = this.inFlight.get(key);
    if (running) {
      this.stats.coalesced++;
      return { value: await running, cached: false };
    }
    this.stats.misses++;
    const p = compute().then((v) => {
      if (keep(v)) this.set(key, v);
      return v;
    });
    this.inFlight.set(key, p);
    try {
      return { value: await p, cached: false };
    } finally {
      this.inFlight.delete(key);
    }
  }

  clear(): void {
    this.entries.clear();
    this.stats.size = 0;
  }
}

/**
 * Tag → digest answers, remembered for a few seconds: with it a warm request for a tagged
 * image makes no registry call at all. Off by default (`ttlMs` 0); at most MAX_TAG_CACHE_TTL_MS.
 *
 * Why it is safe when on: the engine uses a remembered answer only where the digest it yields
 * is pinned into the pod by the mutation patch (`repo:tag@digest`, mutateDigest on), so the pod
 * runs exactly the digest that was verified, never what the tag names by then. A tag moved to
 * unsigned content after signing can therefore never get that content admitted; for at most
 * the TTL it keeps being pinned to the previously verified digest, after which the new content
 * is resolved, verified and denied. Validation without a patch (and verifyDigest false), where
 * the kubelet would pull the tag itself, always resolves afresh. Failures are not remembered.
 *
 * Why off by default: the visible behaviour within the TTL changes ("admitted, pinned to the
 * old digest" instead of "denied"), which an operator should choose; the cost of leaving it off
 * is one manifest GET per tagged image per request (see `npm run bench:admission`).
 */
export type TagDigestCache = VerificationCache<string>;
export const DEFAULT_TAG_CACHE_TTL_MS = 0;
export const MAX_TAG_CACHE_TTL_MS = 60_000;
export const DEFAULT_TAG_CACHE_MAX_ENTRIES = 10_000;

/** A tag → digest cache, or undefined when `ttlMs` is 0 (the default). */
export function createTagDigestCache(
  opts: { ttlMs?: number; maxEntries?: number; now?: () => number } = {},
): TagDigestCache | undefined {
  const ttlMs = opts.ttlMs ?? DEFAULT_TAG_CACHE_TTL_MS;
  if (!Number.isFinite(ttlMs) || ttlMs < 0 || ttlMs > MAX_TAG_CACHE_TTL_MS) {
    throw new SigilError(
      'INVALID_INPUT',
      `tag cache TTL must be between 0 and ${MAX_TAG_CACHE_TTL_MS} ms, got ${ttlMs}`,
    );
  }
  if (ttlMs === 0) return undefined;
  return new VerificationCache<string>({
    ttlMs,
    maxEntries: opts.maxEntries ?? DEFAULT_TAG_CACHE_MAX_ENTRIES,
    ...(opts.now ? { now: opts.now } : {}),
  });
}
