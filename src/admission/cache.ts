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

export class VerificationCache<V> {
  private readonly entries = new Map<string, { value: V; expires: number }>();
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
    if (e.expires <= this.now()) {
      this.entries.delete(key);
      this.stats.size = this.entries.size;
      return undefined;
    }
    // Refresh recency: Map iteration order is insertion order, so re-insert.
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.value;
  }

  set(key: string, value: V): void {
    if (this.maxEntries <= 0 || this.ttlMs <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, { value, expires: this.now() + this.ttlMs });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    this.stats.size = this.entries.size;
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
