/** A request path of the distribution API below /v2/, by what it names. */
export type Route =
  | { kind: 'manifest'; repo: string; ref: string }
  | { kind: 'blob'; repo: string; digest: string }
  | { kind: 'uploads'; repo: string }
  | { kind: 'upload'; repo: string; id: string }
  | { kind: 'tags'; repo: string }
  | { kind: 'referrers'; repo: string; digest: string };

/** Maps a path below /v2/ to a route (pure). Repository names may contain slashes. */
export function routeOf(path: string): Route | undefined {
  const patterns: [RegExp, (m: RegExpExecArray) => Route][] = [
    [/^(.+)\/manifests\/([^/]+)$/, (m) => ({ kind: 'manifest', repo: m[1]!, ref: m[2]! })],
    [/^(.+)\/blobs\/uploads\/?$/, (m) => ({ kind: 'uploads', repo: m[1]! })],
    [/^(.+)\/blobs\/uploads\/([^/]+)$/, (m) => ({ kind: 'upload', repo: m[1]!, id: m[2]! })],
    [/^(.+)\/blobs\/([^/]+)$/, (m) => ({ kind: 'blob', repo: m[1]!, digest: m[2]! })],
    [/^(.+)\/tags\/list$/, (m) => ({ kind: 'tags', repo: m[1]! })],
    [/^(.+)\/referrers\/([^/]+)$/, (m) => ({ kind: 'referrers', repo: m[1]!, digest: m[2]! })],
  ];
  for (const [re, make] of patterns) {
    const m = re.exec(path);
    if (m) return make(m);
  }
  return undefined;
}
