import type { AdmissionInput } from './engine.js';
import { KIND_GROUP_VERSION } from './policy/match.js';
import type {
  FilterBlock,
  LabelSelector,
  ResourceFilter,
  ResourceKind,
  ResourceMatch,
} from './policy/types.js';
import { wildcardMatches } from './policy/wildcard.js';

/** What the match/exclude conditions are evaluated against: the review's request, not the object's claims. */
export interface MatchRequest {
  group: string;
  version: string;
  kind: string;
  subresource: string;
  namespace: string;
  /** metadata.name, else generateName. */
  name: string;
  operation: string;
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
  username: string;
  groups: readonly string[];
  /** False when the request carries no user info (`sigil policy test` without --user/--group). */
  hasUserInfo: boolean;
}

const wm = (pattern: string, value: string): boolean => wildcardMatches({ pattern }, value);

/** metav1.LabelSelector semantics, with Kyverno's wildcard expansion of matchLabels. */
export function selectorMatches(s: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  const entries = Object.entries(labels);
  for (const [k, v] of s.matchLabels) {
    if (!entries.some(([lk, lv]) => wm(k, lk) && wm(v, lv))) return false;
  }
  for (const r of s.matchExpressions) {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    const value = has ? labels[r.key]! : undefined;
    switch (r.operator) {
      case 'In':
        if (value === undefined || !r.values.includes(value)) return false;
        break;
      case 'NotIn':
        if (value !== undefined && r.values.includes(value)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

/**
 * doesResourceMatchConditionBlock: every condition that is set must hold. Without user info,
 * Kyverno drops a `match` filter's subjects (a filter left empty matches nothing) but keeps an
 * `exclude` filter's, which then never hold: the wider reading in both places.
 */
export function filterMatches(f: ResourceFilter, r: MatchRequest, inMatch = false): boolean {
  if (inMatch && !r.hasUserInfo && f.subjects) {
    const { subjects: _dropped, ...rest } = f;
    return Object.keys(rest).length > 0 && filterMatches(rest, r);
  }
  if (f.operations && !f.operations.includes(r.operation)) return false;
  if (
    f.kinds &&
    !f.kinds.some(
      (k) =>
        wm(k.group, r.group) &&
        wm(k.version, r.version) &&
        wm(k.kind, r.kind) &&
        // Pod rules see ephemeral-container updates too (Kyverno's backward compatibility).
        (wm(k.subresource, r.subresource) ||
          (r.group === '' &&
            r.version === 'v1' &&
            r.kind === 'Pod' &&
            r.subresource === 'ephemeralcontainers')),
    )
  )
    return false;
  if (f.names && !f.names.some((n) => wm(n, r.name))) return false;
  if (f.namespaces && !f.namespaces.some((n) => wm(n, r.namespace))) return false;
  if (f.annotations) {
    const actual = Object.entries(r.annotations);
    for (const [k, v] of f.annotations) if (!actual.some(([ak, av]) => wm(k, ak) && wm(v, av))) return false;
  }
  if (f.selector && !selectorMatches(f.selector, r.labels)) return false;
  if (f.subjects) {
    const ok = f.subjects.some((s) => {
      if (s.kind === 'ServiceAccount')
        return wm(`system:serviceaccount:${s.namespace}:${s.name}`, r.username);
      if (s.kind === 'User') return wm(s.name, r.username);
      return r.groups.some((g) => wm(s.name, g));
    });
    if (!ok) return false;
  }
  return true;
}

function blockMatches(b: FilterBlock, r: MatchRequest, inMatch: boolean): boolean {
  return b.mode === 'all'
    ? b.filters.every((f) => filterMatches(f, r, inMatch))
    : b.filters.some((f) => filterMatches(f, r, inMatch));
}

/** MatchesResourceDescription: the match block holds and the exclude block (if any) does not. */
export function matchApplies(m: ResourceMatch, r: MatchRequest): boolean {
  if (!blockMatches(m.match, r, true)) return false;
  return !(m.exclude && blockMatches(m.exclude, r, false));
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return out;
  for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}

/** The request as match/exclude see it: identity from the review, labels and annotations from the object. */
export function matchRequest(input: AdmissionInput, kind: ResourceKind): MatchRequest {
  const meta = (input.object as { metadata?: { labels?: unknown; annotations?: unknown } } | null)?.metadata;
  const [group, version] = KIND_GROUP_VERSION[kind];
  return {
    group: input.group ?? group,
    version: input.version ?? version,
    kind,
    subresource: input.subresource ?? '',
    namespace: input.namespace,
    name: input.name,
    operation: input.operation,
    labels: stringMap(meta?.labels),
    annotations: stringMap(meta?.annotations),
    username: input.userInfo?.username ?? '',
    groups: input.userInfo?.groups ?? [],
    hasUserInfo: input.userInfo !== undefined,
  };
}
