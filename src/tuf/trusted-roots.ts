import { createHash } from 'node:crypto';
import type { TrustedRoot } from '../bundle/index.js';
import { fetchTufTrustedRoot, type TufSource } from './client.js';

/** How long a fetched root serves before the next update, and how long a failure is remembered. */
export const TUF_CACHE_MS = { ok: 5 * 60_000, failure: 10_000 } as const;

function keyOf(source: TufSource): string {
  const root = Buffer.isBuffer(source.root)
    ? createHash('sha256').update(source.root).digest('hex')
    : source.root.url;
  return JSON.stringify([source.mirror, root]);
}

interface Entry {
  until: number;
  value: Promise<TrustedRoot>;
  /** The root, once fetched. */
  root?: TrustedRoot;
  /** While an update of a due root runs: that root, for the reviews meanwhile. */
  refreshing?: Promise<TrustedRoot>;
}

/**
 * Trusted roots fetched through TUF, one update per (mirror, root) at a time: kept for
 * TUF_CACHE_MS.ok, a failure for TUF_CACHE_MS.failure (so a down mirror is not asked on every
 * review, and is asked again soon). When a fetched root falls due, the next review starts the
 * update and goes on with the root it had until the update ends (at most TUF_LIMITS.updateMs):
 * a review does not wait for a refresh, a failed refresh ends that root, and a root left due
 * for longer than TUF_CACHE_MS.ok is not used while it is updated.
 */
export class TufTrustedRoots {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly fetchRoot: (s: TufSource) => Promise<TrustedRoot> = fetchTufTrustedRoot,
    private readonly now: () => number = Date.now,
  ) {}

  /** The root `get` would answer now without I/O: fetched and not yet due for an update. */
  peek(source: TufSource): TrustedRoot | undefined {
    const hit = this.entries.get(keyOf(source));
    return hit && hit.until > this.now() ? hit.root : undefined;
  }

  get(source: TufSource): Promise<TrustedRoot> {
    const key = keyOf(source);
    const hit = this.entries.get(key);
    if (hit && hit.until > this.now()) return hit.value;
    if (hit?.refreshing) return hit.refreshing;
    const entry: Entry = { until: Number.POSITIVE_INFINITY, value: this.fetchRoot(source) };
    // A due root keeps answering until its update ends; with none, reviews wait for the update.
    if (hit?.root && hit.until + TUF_CACHE_MS.ok > this.now()) hit.refreshing = Promise.resolve(hit.root);
    else this.entries.set(key, entry);
    entry.value.then(
      (root) => {
        entry.root = root;
        entry.until = this.now() + TUF_CACHE_MS.ok;
        this.entries.set(key, entry);
      },
      () => {
        entry.until = this.now() + TUF_CACHE_MS.failure;
        this.entries.set(key, entry);
      },
    );
    return hit?.refreshing ?? entry.value;
  }
}
