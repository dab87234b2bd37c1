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
}

/**
 * Trusted roots fetched through TUF, one update per (mirror, root) at a time: kept for
 * TUF_CACHE_MS.ok, a failure for TUF_CACHE_MS.failure (so a down mirror is not asked on every
 * review, and is asked again soon).
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
    const entry: Entry = { until: Number.POSITIVE_INFINITY, value: this.fetchRoot(source) };
    this.entries.set(key, entry);
    entry.value.then(
      (root) => {
        entry.root = root;
        entry.until = this.now() + TUF_CACHE_MS.ok;
      },
      () => (entry.until = this.now() + TUF_CACHE_MS.failure),
    );
    return entry.value;
  }
}
