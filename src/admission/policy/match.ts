import {
  type Doc,
  invalid,
  isObject,
  objectAt,
  optArray,
  optObject,
  optString,
  optStringList,
} from './fields.js';
import { refuseUnknown } from './known-fields.js';
import type {
  FilterBlock,
  KindSelector,
  LabelRequirement,
  LabelSelector,
  ResourceFilter,
  ResourceKind,
  ResourceMatch,
  Subject,
} from './types.js';
import { compileWildcard, wildcardMatches } from './wildcard.js';

export const POD_CONTROLLERS: readonly ResourceKind[] = [
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'ReplicaSet',
  'ReplicationController',
  'Job',
  'CronJob',
];
export const ALL_KINDS: readonly ResourceKind[] = ['Pod', ...POD_CONTROLLERS];

/** API group and version of each kind sigil extracts images from. */
export const KIND_GROUP_VERSION: Record<ResourceKind, [string, string]> = {
  Pod: ['', 'v1'],
  ReplicationController: ['', 'v1'],
  Deployment: ['apps', 'v1'],
  StatefulSet: ['apps', 'v1'],
  DaemonSet: ['apps', 'v1'],
  ReplicaSet: ['apps', 'v1'],
  Job: ['batch', 'v1'],
  CronJob: ['batch', 'v1'],
};

const VERSION_RE = /^v\d+((alpha|beta)\d+)?$/;
const OPERATIONS = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];
const SUBRESOURCES = ['', '*', 'ephemeralcontainers'];
const LIMIT = 200;

const w = (s: string, path: string): string => compileWildcard(s, path).pattern;

/** Kyverno's ParseKindSelector (pkg/utils/kube/kind.go): `Kind`, `v1/Kind`, `Kind/sub`, `g/v/Kind[/sub]`. */
export function splitKindSelector(input: string): KindSelector | undefined {
  let parts = input.split('/');
  parts = [...parts.slice(0, -1), ...(parts[parts.length - 1] ?? '').split('.')];
  const [a = '', b = '', c = '', d = ''] = parts;
  switch (parts.length) {
    case 1:
      return { group: '*', version: '*', kind: a, subresource: '' };
    case 2:
      if (a === '*' && b === '*') return { group: '*', version: '*', kind: '*', subresource: '*' };
      if (a === '*' && b.toLowerCase() === b) return { group: '*', version: '*', kind: a, subresource: b };
      if (VERSION_RE.test(a)) return { group: '*', version: a, kind: b, subresource: '' };
      return { group: '*', version: '*', kind: a, subresource: b };
    case 3:
      if (VERSION_RE.test(a)) return { group: '*', version: a, kind: b, subresource: c };
      return { group: a, version: b, kind: c, subresource: '' };
    case 4:
      return { group: a, version: b, kind: c, subresource: d };
    default:
      return undefined;
  }
}

/** True when the selector can match `kind` (group, version, kind parts; subresource aside). */
export function selectorNamesKind(s: KindSelector, kind: ResourceKind): boolean {
  const [g, v] = KIND_GROUP_VERSION[kind];
  return (
    wildcardMatches({ pattern: s.group }, g) &&
    wildcardMatches({ pattern: s.version }, v) &&
    wildcardMatches({ pattern: s.kind }, kind)
  );
}

/**
 * A kind that would match none of the kinds sigil reads images from (`pods`, `Pods`, `v1/pods`,
 * `apps/v1/Pod`, `Service`) is refused: loaded silently it would make the rule match nothing.
 */
function parseKind(raw: string, path: string): KindSelector {
  const s = splitKindSelector(raw);
  if (!s || s.kind === '') throw invalid(path, `"${raw}" is not a kind selector`);
  for (const [part, v] of Object.entries(s)) compileWildcard(v || 'x', `${path} (${part})`);
  if (!SUBRESOURCES.includes(s.subresource))
    throw invalid(path, `"${raw}": subresource ${s.subresource} is not evaluated (only ephemeralcontainers)`);
  if (!ALL_KINDS.some((k) => selectorNamesKind(s, k))) {
    throw invalid(
      path,
      `"${raw}" matches none of the kinds sigil verifies (${ALL_KINDS.join(', ')}; kinds are singular and capitalised)`,
    );
  }
  return s;
}

export function parseLabelSelector(d: Doc, path: string): LabelSelector {
  refuseUnknown(d, path, ['matchLabels', 'matchExpressions']);
  const labels = optObject(d, 'matchLabels', path) ?? {};
  const matchLabels: [string, string][] = Object.entries(labels).map(([k, v]) => {
    if (typeof v !== 'string') throw invalid(`${path}.matchLabels.${k}`, 'must be a string');
    return [w(k, `${path}.matchLabels`), v === '' ? '' : w(v, `${path}.matchLabels.${k}`)];
  });
  const matchExpressions = (optArray(d, 'matchExpressions', path, LIMIT) ?? []).map(
    (raw, i): LabelRequirement => {
      const ep = `${path}.matchExpressions[${i}]`;
      const e = objectAt(raw, ep);
      refuseUnknown(e, ep, ['key', 'operator', 'values']);
      const key = optString(e, 'key', ep, 317);
      if (!key) throw invalid(`${ep}.key`, 'is required');
      const operator = optString(e, 'operator', ep, 16);
      const values = optStringList(e, 'values', ep, LIMIT) ?? [];
      if (operator === 'In' || operator === 'NotIn') {
        if (values.length === 0) throw invalid(`${ep}.values`, `must not be empty for ${operator}`);
      } else if (operator === 'Exists' || operator === 'DoesNotExist') {
        if (values.length > 0) throw invalid(`${ep}.values`, `must be empty for ${operator}`);
      } else throw invalid(`${ep}.operator`, `unknown operator ${JSON.stringify(operator)}`);
      return { key, operator, values };
    },
  );
  if (matchLabels.length + matchExpressions.length > LIMIT) throw invalid(path, 'too many requirements');
  return { matchLabels, matchExpressions };
}

function parseSubjects(list: unknown[], path: string): Subject[] {
  return list.map((raw, i) => {
    const sp = `${path}[${i}]`;
    const s = objectAt(raw, sp);
    refuseUnknown(s, sp, ['kind', 'name', 'namespace', 'apiGroup']);
    const kind = optString(s, 'kind', sp, 32);
    if (kind !== 'User' && kind !== 'Group' && kind !== 'ServiceAccount')
      throw invalid(`${sp}.kind`, 'must be User, Group or ServiceAccount');
    const name = optString(s, 'name', sp, 253);
    if (!name) throw invalid(`${sp}.name`, 'is required');
    const namespace = optString(s, 'namespace', sp, 63) ?? '';
    if (kind === 'ServiceAccount' && !namespace)
      throw invalid(`${sp}.namespace`, 'is required for ServiceAccount');
    return { kind, name: w(name, `${sp}.name`), namespace };
  });
}

const NOT_EVALUATED =
  'is not evaluated by sigil (refused rather than ignored): the AdmissionReview carries neither namespace labels nor RBAC role bindings';

/** One ResourceFilter: `resources{…}` plus user info (`subjects`; `roles`/`clusterRoles` are refused). */
function parseFilter(d: Doc, path: string, userKeys: boolean): ResourceFilter {
  const out: ResourceFilter = {};
  for (const key of ['roles', 'clusterRoles']) {
    if (d[key] !== undefined && d[key] !== null) throw invalid(`${path}.${key}`, NOT_EVALUATED);
  }
  const subjects = optArray(d, 'subjects', path, LIMIT);
  if (subjects && subjects.length > 0) out.subjects = parseSubjects(subjects, `${path}.subjects`);
  const r = optObject(d, 'resources', path);
  if (r) {
    const rp = `${path}.resources`;
    refuseUnknown(r, rp, [
      'kinds',
      'name',
      'names',
      'namespaces',
      'annotations',
      'selector',
      'namespaceSelector',
      'operations',
    ]);
    if (r.namespaceSelector !== undefined && r.namespaceSelector !== null)
      throw invalid(`${rp}.namespaceSelector`, NOT_EVALUATED);
    const kinds = optStringList(r, 'kinds', rp, LIMIT);
    if (kinds && kinds.length > 0) out.kinds = kinds.map((k, i) => parseKind(k, `${rp}.kinds[${i}]`));
    const names = [...(optStringList(r, 'names', rp, LIMIT) ?? [])];
    const name = optString(r, 'name', rp, 253);
    if (name) out.names = [w(name, `${rp}.name`)];
    if (names.length > 0) {
      // `name` and `names` are two conditions (both must hold), as in doesResourceMatchConditionBlock.
      if (name) throw invalid(`${rp}.name`, 'set name or names, not both');
      out.names = names.map((n, i) => w(n, `${rp}.names[${i}]`));
    }
    const namespaces = optStringList(r, 'namespaces', rp, LIMIT);
    if (namespaces && namespaces.length > 0)
      out.namespaces = namespaces.map((n, i) => w(n, `${rp}.namespaces[${i}]`));
    const annotations = optObject(r, 'annotations', rp);
    if (annotations && Object.keys(annotations).length > 0) {
      out.annotations = Object.entries(annotations).map(([k, v]) => {
        if (typeof v !== 'string') throw invalid(`${rp}.annotations.${k}`, 'must be a string');
        return [w(k, `${rp}.annotations`), v === '' ? '' : w(v, `${rp}.annotations.${k}`)];
      });
    }
    const selector = optObject(r, 'selector', rp);
    if (selector) out.selector = parseLabelSelector(selector, `${rp}.selector`);
    const ops = optStringList(r, 'operations', rp, 4);
    if (ops && ops.length > 0) {
      for (const op of ops)
        if (!OPERATIONS.includes(op))
          throw invalid(`${rp}.operations`, `unknown operation ${JSON.stringify(op)}`);
      out.operations = ops;
    }
  }
  if (!userKeys && out.subjects) throw invalid(`${path}.subjects`, 'is not allowed here');
  if (Object.keys(out).length === 0)
    throw invalid(
      path,
      'an empty filter is refused (Kyverno: "match cannot be empty"; in exclude it never applies)',
    );
  return out;
}

function parseBlock(block: Doc, path: string): FilterBlock {
  refuseUnknown(block, path, ['any', 'all', 'resources', 'subjects', 'roles', 'clusterRoles']);
  const any = optArray(block, 'any', path, LIMIT);
  const all = optArray(block, 'all', path, LIMIT);
  const legacy = ['resources', 'subjects', 'roles', 'clusterRoles'].filter(
    (k) => block[k] !== undefined && block[k] !== null,
  );
  const lists = [any?.length ? 'any' : '', all?.length ? 'all' : '', legacy.length ? legacy[0] : ''].filter(
    Boolean,
  );
  if (lists.length > 1) throw invalid(path, `${lists.join(' and ')} cannot be used together`);
  for (const [mode, list] of [
    ['any', any],
    ['all', all],
  ] as const) {
    if (list?.length) {
      return {
        mode,
        filters: list.map((f, i) => {
          const fp = `${path}.${mode}[${i}]`;
          const fd = objectAt(f, fp);
          refuseUnknown(fd, fp, ['resources', 'subjects', 'roles', 'clusterRoles']);
          return parseFilter(fd, fp, true);
        }),
      };
    }
  }
  return { mode: 'one', filters: [parseFilter(block, path, true)] };
}

/**
 * A Kyverno rule's `match` and `exclude`, read as Kyverno's MatchesResourceDescription reads them.
 * A rule without `match` (which Kyverno's policy validation refuses) is read as matching every
 * kind sigil verifies: the stricter of the two readings.
 */
export function parseResourceMatch(rule: Doc, path: string): ResourceMatch {
  const everything: FilterBlock = {
    mode: 'one',
    filters: [{ kinds: [{ group: '*', version: '*', kind: '*', subresource: '' }] }],
  };
  if (rule.match !== undefined && rule.match !== null && !isObject(rule.match))
    throw invalid(`${path}.match`, 'must be an object');
  const match = isObject(rule.match) ? parseBlock(rule.match, `${path}.match`) : everything;
  const ex = optObject(rule, 'exclude', path);
  const exclude = ex && Object.keys(ex).length > 0 ? parseBlock(ex, `${path}.exclude`) : undefined;
  return { match, ...(exclude ? { exclude } : {}) };
}
