import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { matchApplies, matchRequest } from '../../src/admission/applies.js';

import { parsePolicyText, type ResourceKind } from '../../src/admission/policy/index.js';

/**
 * Property: sigil's "rule applies" equals a small reference evaluator written here from Kyverno's
 * documented match/exclude semantics (docs: policy-types/cluster-policy/match-exclude): a filter
 * holds when every condition it sets holds (lists inside a condition are OR'ed, wildcards `*`/`?`);
 * `any` = OR over filters, `all` = AND; a rule applies when match holds and exclude does not.
 */

type Filter = {
  resources?: {
    kinds?: string[];
    namespaces?: string[];
    names?: string[];
    operations?: string[];
    selector?: { matchLabels: Record<string, string> };
    annotations?: Record<string, string>;
  };
  subjects?: { kind: string; name: string; namespace?: string }[];
};
type Block = { any: Filter[] } | { all: Filter[] } | Filter;

interface Req {
  kind: ResourceKind;
  namespace: string;
  name: string;
  operation: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  username: string;
  groups: string[];
}

const glob = (p: string, v: string): boolean =>
  new RegExp(
    `^${p
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  ).test(v);

const GROUP: Record<string, string> = { Pod: '', Deployment: 'apps', Job: 'batch' };
/** `Kind`, `v1/Kind`, `group/v1/Kind`, `*`. */
function refKind(sel: string, kind: ResourceKind): boolean {
  if (sel === '*') return true;
  const parts = sel.split('/');
  if (parts.length === 1) return sel === kind;
  if (parts.length === 2) return parts[1] === kind && parts[0] === 'v1';
  return parts[2] === kind && parts[0] === GROUP[kind] && parts[1] === 'v1';
}

function refFilter(f: Filter, r: Req): boolean {
  const res = f.resources ?? {};
  if (res.kinds && !res.kinds.some((k) => refKind(k, r.kind))) return false;
  if (res.namespaces && !res.namespaces.some((n) => glob(n, r.namespace))) return false;
  if (res.names && !res.names.some((n) => glob(n, r.name))) return false;
  if (res.operations && !res.operations.includes(r.operation)) return false;
  if (res.selector && !Object.entries(res.selector.matchLabels).every(([k, v]) => r.labels[k] === v))
    return false;
  if (
    res.annotations &&
    !Object.entries(res.annotations).every(([k, v]) =>
      Object.entries(r.annotations).some(([ak, av]) => glob(k, ak) && glob(v, av)),
    )
  )
    return false;
  if (f.subjects) {
    const ok = f.subjects.some((s) =>
      s.kind === 'User'
        ? glob(s.name, r.username)
        : s.kind === 'Group'
          ? r.groups.some((g) => glob(s.name, g))
          : glob(`system:serviceaccount:${s.namespace}:${s.name}`, r.username),
    );
    if (!ok) return false;
  }
  return true;
}

function refBlock(b: Block, r: Req): boolean {
  if ('any' in b) return b.any.some((f) => refFilter(f, r));
  if ('all' in b) return b.all.every((f) => refFilter(f, r));
  return refFilter(b, r);
}

const sub = <T>(xs: T[]) => fc.subarray(xs, { minLength: 1 });
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
const filterArb: fc.Arbitrary<Filter> = fc
  .record({
    kinds: opt(sub(['Pod', 'Deployment', 'Job', '*', 'v1/Pod', 'apps/v1/Deployment', 'batch/v1/Job'])),
    namespaces: opt(sub(['prod', 'dev', 'ci-*', 'p?od'])),
    names: opt(sub(['web-*', 'db', '*-1'])),
    operations: opt(sub(['CREATE', 'UPDATE'])),
    selector: opt(
      fc.constantFrom({ matchLabels: { tier: 'web' } }, { matchLabels: { tier: 'db', app: 'x' } }),
    ),
    annotations: opt(fc.constantFrom({ team: 'a*' }, { 'owner/*': 'ci' })),
    subjects: opt(
      sub([
        { kind: 'User', name: 'alice' },
        { kind: 'Group', name: 'team-*' },
        { kind: 'ServiceAccount', name: 'builder', namespace: 'ci-tools' },
      ]),
    ),
  })
  .filter((f) => Object.values(f).some((v) => v !== undefined))
  .map(({ subjects, ...res }) => {
    const resources = Object.fromEntries(Object.entries(res).filter(([, v]) => v !== undefined));
    return {
      ...(Object.keys(resources).length > 0 ? { resources } : {}),
      ...(subjects ? { subjects } : {}),
    };
  });
const blockArb: fc.Arbitrary<Block> = fc.oneof(
  fc.array(filterArb, { minLength: 1, maxLength: 3 }).map((any) => ({ any })),
  fc.array(filterArb, { minLength: 1, maxLength: 3 }).map((all) => ({ all })),
  filterArb,
);
const reqArb: fc.Arbitrary<Req> = fc.record({
  kind: fc.constantFrom<ResourceKind>('Pod', 'Deployment', 'Job'),
  namespace: fc.constantFrom('prod', 'dev', 'ci-tools', 'default', 'pxod'),
  name: fc.constantFrom('web-1', 'db', 'api'),
  operation: fc.constantFrom('CREATE', 'UPDATE'),
  labels: fc.constantFrom<Record<string, string>>(
    {},
    { tier: 'web' },
    { tier: 'db', app: 'x' },
    { tier: 'db' },
  ),
  annotations: fc.constantFrom<Record<string, string>>({}, { team: 'alpha' }, { 'owner/x': 'ci' }),
  username: fc.constantFrom('alice', 'bob', 'system:serviceaccount:ci-tools:builder'),
  groups: fc.constantFrom<string[]>([], ['team-a'], ['ops']),
});

test('rule applies = reference evaluator over generated match/exclude blocks and requests', () => {
  fc.assert(
    fc.property(blockArb, opt(blockArb), reqArb, (match, exclude, r) => {
      const doc = {
        apiVersion: 'kyverno.io/v1',
        kind: 'ClusterPolicy',
        metadata: { name: 'p', annotations: { 'pod-policies.kyverno.io/autogen-controllers': 'none' } },
        spec: {
          rules: [
            {
              name: 'r',
              match,
              ...(exclude ? { exclude } : {}),
              verifyImages: [
                {
                  imageReferences: ['*'],
                  failureAction: 'Enforce',
                  attestors: [{ entries: [{ keyless: { subject: 'x', issuer: 'y' } }] }],
                },
              ],
            },
          ],
        },
      };
      const [policy] = parsePolicyText(JSON.stringify(doc), 'p.yaml', { hasTrustedRoot: true });
      const rule = policy!.rules[0]!;
      const input = {
        kind: r.kind,
        namespace: r.namespace,
        name: r.name,
        operation: r.operation,
        object: { metadata: { labels: r.labels, annotations: r.annotations } },
        userInfo: { username: r.username, groups: r.groups },
      };
      const want = refBlock(match, r) && !(exclude && refBlock(exclude, r));
      assert.equal(matchApplies(rule.match, matchRequest(input, r.kind)), want);
    }),
    { numRuns: 3000 },
  );
});
