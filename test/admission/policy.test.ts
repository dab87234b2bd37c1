import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { generateP256, publicKeyPem } from '../../src/crypto/index.js';
import { isSigilError } from '../../src/errors/index.js';
import {
  compileWildcard,
  loadPolicies,
  parsePolicyText,
  wildcardMatches,
} from '../../src/admission/policy/index.js';
import type { KeylessAttestor, ResourceKind } from '../../src/admission/policy/index.js';
import { matchApplies, matchRequest } from '../../src/admission/applies.js';

const ctx = { hasTrustedRoot: true };

function clusterPolicy(verifyImage: string, extra = ''): string {
  return `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: check-images
spec:
${extra}  rules:
    - name: check-signature
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
${verifyImage
  .split('\n')
  .map((l) => `        ${l}`)
  .join('\n')}
`;
}

const SEED_RULE = `- imageReferences: ["registry.local:5000/org/rs-*"]
  failureAction: Enforce
  attestors:
    - entries:
        - keyless:
            subjectRegExp: "^https://github.com/org/repo/.github/workflows/CI-CD.yml@.*"
            issuer: "http://127.0.0.1:8080"
            rekor:
              url: http://127.0.0.1:3000`;

function expectInvalid(text: string, pattern: RegExp, c = ctx): void {
  assert.throws(
    () => parsePolicyText(text, 'test.yaml', c),
    (e: unknown) => isSigilError(e, 'INVALID_POLICY') && pattern.test(e.message),
  );
}

describe('Kyverno wildcard', () => {
  const cases: [string, string, boolean][] = [
    ['ghcr.io/org/*', 'ghcr.io/org/app:1', true],
    ['ghcr.io/org/*', 'ghcr.io/org/team/nested:tag', true], // * crosses /
    ['ghcr.io/org*', 'ghcr.io/org-evil/x:1', true], // documented Kyverno edge
    ['ghcr.io/org/*', 'ghcr.io/orgX/app:1', false],
    ['ghcr.io/org/*', 'evil.io/ghcr.io/org/app:1', false], // anchored
    ['ghcr.io/org/app:?', 'ghcr.io/org/app:1', true],
    ['ghcr.io/org/app:?', 'ghcr.io/org/app:12', false],
    ['ghcr.io/org/app', 'ghcrXio/org/app', false], // . is literal
    ['GHCR.io/*', 'ghcr.io/a:1', false], // case-sensitive
    ['*', 'docker.io/library/nginx:latest', true],
    ['docker.io/library/nginx*', 'docker.io/library/nginx:latest', true],
    ['reg:5000/org/rs-*', 'reg:5000/org/rs-cart@sha256:abc', true],
    ['a**b', 'a/x/y/b', true],
  ];
  for (const [pattern, value, want] of cases) {
    it(`${pattern} ${want ? 'matches' : 'does not match'} ${value}`, () => {
      assert.equal(wildcardMatches(compileWildcard(pattern), value), want);
    });
  }
  it('refuses empty and over-long patterns', () => {
    assert.throws(
      () => compileWildcard(''),
      (e: unknown) => isSigilError(e, 'INVALID_POLICY'),
    );
    assert.throws(
      () => compileWildcard('a'.repeat(513)),
      (e: unknown) => isSigilError(e, 'INVALID_POLICY'),
    );
  });
  it('stays linear on pathological patterns', () => {
    const w = compileWildcard('*a*a*a*a*a*a*a*a*a*a*b');
    const t = performance.now();
    assert.equal(wildcardMatches(w, 'a'.repeat(300)), false);
    assert.ok(performance.now() - t < 1000);
  });
});

describe('ClusterPolicy verifyImages parsing', () => {
  it('loads the seed policy with defaults', () => {
    const [p] = parsePolicyText(clusterPolicy(SEED_RULE), 'seed.yaml', ctx);
    assert.ok(p);
    assert.equal(p.kind, 'ClusterPolicy');
    assert.equal(p.name, 'check-images');
    // Kyverno's autogen: the Pod rule, then autogen-… for the controllers and autogen-cronjob-….
    assert.deepEqual(
      p.rules.map((x) => x.name),
      ['check-signature', 'autogen-check-signature', 'autogen-cronjob-check-signature'],
    );
    const r = p.rules[0]!;
    assert.equal(r.failureAction, 'Enforce');
    assert.deepEqual([r.mutateDigest, r.verifyDigest, r.required, r.useCache], [true, true, true, true]);
    const applies = (kind: ResourceKind): boolean[] =>
      p.rules.map((x) =>
        matchApplies(
          x.match,
          matchRequest({ kind, namespace: 'default', name: 'x', operation: 'CREATE', object: {} }, kind),
        ),
      );
    assert.deepEqual(applies('Pod'), [true, false, false]);
    assert.deepEqual(applies('Deployment'), [false, true, false]);
    assert.deepEqual(applies('CronJob'), [false, false, true]);
    const a = r.attestorSets[0]!.entries[0]!.attestor as KeylessAttestor;
    assert.equal(a.kind, 'keyless');
    assert.equal(a.identities[0]!.issuer, 'http://127.0.0.1:8080');
    assert.ok(
      a.identities[0]!.subjectRegExp!.test(
        'https://github.com/org/repo/.github/workflows/CI-CD.yml@refs/heads/main',
      ),
    );
    assert.equal(a.rekor.url, 'http://127.0.0.1:3000');
    assert.equal(a.rekor.ignoreTlog, false);
    assert.match(p.id, /^ClusterPolicy\/\/check-images@[0-9a-f]{16}$/);
  });

  it('policy id changes with content (cache invalidation)', () => {
    const [a] = parsePolicyText(clusterPolicy(SEED_RULE), 'a.yaml', ctx);
    const [b] = parsePolicyText(clusterPolicy(SEED_RULE.replace('CI-CD', 'Release')), 'a.yaml', ctx);
    assert.notEqual(a!.id, b!.id);
  });

  it('legacy spec.validationFailureAction applies when the rule has no failureAction', () => {
    const rule = SEED_RULE.replace('  failureAction: Enforce\n', '  mutateDigest: false\n');
    const [p] = parsePolicyText(clusterPolicy(rule, '  validationFailureAction: Audit\n'), 't.yaml', ctx);
    assert.equal(p!.rules[0]!.failureAction, 'Audit');
    const [q] = parsePolicyText(
      clusterPolicy(
        rule.replace('mutateDigest: false', 'mutateDigest: true'),
        '  validationFailureAction: enforce\n',
      ),
      't.yaml',
      ctx,
    );
    assert.equal(q!.rules[0]!.failureAction, 'Enforce');
  });

  it('reads count, multiple public keys, nested attestors, extensions, ctlog and failurePolicy', () => {
    const k1 = publicKeyPem(generateP256().publicKey);
    const k2 = publicKeyPem(generateP256().publicKey);
    const keys = (k1 + k2)
      .trim()
      .split('\n')
      .map((l) => `                ${l}`)
      .join('\n');
    const rule = `- imageReferences: ["ghcr.io/*"]
  skipImageReferences: ["ghcr.io/org/debug-*"]
  failureAction: Enforce
  useCache: false
  attestors:
    - count: 1
      entries:
        - keys:
            publicKeys: |-
${keys}
        - keyless:
            subject: "*@example.com"
            issuerRegExp: "^https://accounts\\\\.example\\\\.com$"
            additionalExtensions:
              githubWorkflowTrigger: push
              1.3.6.1.4.1.57264.1.12: https://github.com/org/repo
            ctlog:
              ignoreSCT: true
        - attestor:
            entries:
              - keyless:
                  subject: ci@example.com
                  issuerRegExp: '.*'`;
    const [p] = parsePolicyText(
      clusterPolicy(rule, '  webhookConfiguration:\n    failurePolicy: Ignore\n'),
      't.yaml',
      ctx,
    );
    const r = p!.rules[0]!;
    assert.equal(p!.failurePolicy, 'Ignore');
    assert.equal(r.useCache, false);
    assert.equal(r.skipImageReferences[0]!.pattern, 'ghcr.io/org/debug-*');
    const set = r.attestorSets[0]!;
    assert.equal(set.count, 1);
    assert.deepEqual(
      set.entries.map((e) => [e.index, e.attestor.kind]),
      [
        [0, 'keys'],
        [0, 'keys'],
        [1, 'keyless'],
        [2, 'attestor'],
      ],
    );
    const kl = set.entries[2]!.attestor as KeylessAttestor;
    assert.deepEqual(kl.additionalExtensions, {
      '1.3.6.1.4.1.57264.1.2': 'push',
      '1.3.6.1.4.1.57264.1.12': 'https://github.com/org/repo',
    });
    assert.equal(kl.ctlog.ignoreSCT, true);
    assert.ok(kl.identities[0]!.subject && wildcardMatches(kl.identities[0]!.subject, 'dev@example.com'));
    assert.ok(kl.identities[0]!.issuerRegExp!.test('https://accounts.example.com'));
    assert.ok(!kl.identities[0]!.issuerRegExp!.test('https://accountsXexample.com'));
  });

  const invalid: [string, string, RegExp, string?][] = [
    [
      'bad regex',
      SEED_RULE.replace('"^https://github.com/org/repo/.github/workflows/CI-CD.yml@.*"', '"([unclosed"'),
      /subjectRegExp is not a valid regular expression/,
    ],
    [
      'regex too long',
      SEED_RULE.replace(
        '"^https://github.com/org/repo/.github/workflows/CI-CD.yml@.*"',
        `"${'a'.repeat(1100)}"`,
      ),
      /longer than 1024/,
    ],
    [
      'look-around regex',
      SEED_RULE.replace('"^https://github.com/org/repo/.github/workflows/CI-CD.yml@.*"', '"^(?!evil).*"'),
      /look-around/,
    ],
    [
      'back-reference regex',
      SEED_RULE.replace('"^https://github.com/org/repo/.github/workflows/CI-CD.yml@.*"', '"(a)\\\\1"'),
      /back-reference/,
    ],
    [
      'count > entries',
      SEED_RULE.replace('    - entries:', '    - count: 2\n      entries:'),
      /Count cannot exceed length of entries/,
    ],
    ['missing identity', SEED_RULE.replace(/ *subjectRegExp: .*\n/, ''), /an identity is required/],
    [
      'unknown failureAction',
      SEED_RULE.replace('failureAction: Enforce', 'failureAction: Block'),
      /unknown failure action "Block"/,
    ],
    [
      'no imageReferences',
      SEED_RULE.replace('imageReferences: ["registry.local:5000/org/rs-*"]', 'mutateDigest: true'),
      /An image reference is required/,
    ],
    [
      'Audit with mutateDigest',
      SEED_RULE.replace('failureAction: Enforce', 'failureAction: Audit'),
      /mutateDigest must be set to false for 'Audit'/,
    ],
    ['unsupported type', `${SEED_RULE}\n  type: Notary`, /type Notary is not supported/],
    [
      'attestations',
      `${SEED_RULE}\n  attestations:\n    - type: https://slsa.dev/provenance/v1`,
      /attestation checks are not supported/,
    ],
    [
      'empty entries',
      SEED_RULE.replace(/ {4}- entries:[\s\S]*/, '    - entries: []'),
      /at least one entry is required/,
    ],
    [
      'two attestor kinds in one entry',
      SEED_RULE.replace('        - keyless:', '        - keys: {publicKeys: x}\n          keyless:'),
      /exactly one of keys/,
    ],
    [
      'kms keys',
      SEED_RULE.replace(/ {8}- keyless:[\s\S]*/, '        - keys:\n            kms: awskms:///x'),
      /kms and secret keys are not supported/,
    ],
    [
      'unknown extension',
      SEED_RULE.replace(
        '            issuer:',
        '            additionalExtensions: {favouriteColour: red}\n            issuer:',
      ),
      /favouriteColour: is not a known Fulcio certificate extension/,
    ],
    ['empty rekor url', SEED_RULE.replace('url: http://127.0.0.1:3000', 'url: ""'), /An URL is required/],
  ];
  for (const [name, rule, pattern] of invalid) {
    it(`refuses ${name}`, () => expectInvalid(clusterPolicy(rule), pattern));
  }
  it('refuses keyless without roots when no trusted root is configured', () => {
    expectInvalid(
      clusterPolicy(SEED_RULE),
      /roots are required \(or start the server with --trusted-root\)/,
      { hasTrustedRoot: false },
    );
  });
  it('names the file, policy and field in the reason', () => {
    expectInvalid(
      clusterPolicy(SEED_RULE.replace('failureAction: Enforce', 'failureAction: Nope')),
      /^test\.yaml: ClusterPolicy check-images: spec\.rules\[0\]\.verifyImages\[0\]\.failureAction/,
    );
  });
  it('refuses unknown failurePolicy and duplicate rule names', () => {
    expectInvalid(clusterPolicy(SEED_RULE, '  failurePolicy: Sometimes\n'), /unknown failure policy/);
    const dup = clusterPolicy(SEED_RULE).replace(
      / {2}rules:\n/,
      '  rules:\n    - name: check-signature\n      validate: {}\n',
    );
    expectInvalid(dup, /duplicate rule name/);
  });
});

describe('ImageValidatingPolicy parsing', () => {
  const ivpol = (extra = '', actions = '[Deny]') => `apiVersion: policies.kyverno.io/v1beta1
kind: ImageValidatingPolicy
metadata:
  name: verify-ci
spec:
  validationActions: ${actions}
  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: [v1]
        operations: [CREATE, UPDATE]
        resources: [pods]
  matchImageReferences:
    - glob: "ghcr.io/org/*"
  attestors:
    - name: ci
      cosign:
        keyless:
          identities:
            - subjectRegExp: "^https://github.com/org/.*"
              issuer: https://token.actions.githubusercontent.com
            - subject: release@example.com
              issuerRegExp: "^https://accounts\\\\.example\\\\.com$"
        ctlog:
          url: http://127.0.0.1:3000
          insecureIgnoreSCT: true
${extra}`;
  it('loads identities, validationConfigurations and actions', () => {
    const [p] = parsePolicyText(
      ivpol(
        '  validationConfigurations:\n    mutateDigest: false\n    verifyDigest: false\n  failurePolicy: Ignore\n',
      ),
      'iv.yaml',
      ctx,
    );
    assert.equal(p!.kind, 'ImageValidatingPolicy');
    const r = p!.rules[0]!;
    assert.equal(r.name, 'verify-ci');
    assert.equal(r.failureAction, 'Enforce');
    assert.equal(p!.failurePolicy, 'Ignore');
    assert.deepEqual([r.mutateDigest, r.verifyDigest, r.required], [false, false, true]);
    for (const kind of ['Pod', 'Deployment'] as const)
      assert.ok(
        matchApplies(
          r.match,
          matchRequest({ kind, namespace: 'default', name: 'x', operation: 'CREATE', object: {} }, kind),
        ),
        kind,
      );
    const a = r.attestorSets[0]!.entries[0]!.attestor as KeylessAttestor;
    assert.equal(a.identities.length, 2);
    assert.equal(a.rekor.url, 'http://127.0.0.1:3000');
    assert.equal(a.ctlog.ignoreSCT, true);
    assert.equal(r.attestorSets[0]!.count, 1);
  });
  it('maps Warn/Audit to Audit and refuses Deny+Warn', () => {
    assert.equal(parsePolicyText(ivpol('', '[Warn]'), 'iv.yaml', ctx)[0]!.rules[0]!.failureAction, 'Audit');
    expectInvalid(ivpol('', '[Deny, Warn]'), /Deny and Warn cannot be used together/);
  });
  it('refuses identities without a subject and CEL match expressions', () => {
    expectInvalid(
      ivpol().replace('            - subject: release@example.com\n', '            - issuer: x\n'),
      /identities\[1\]: an identity is required/,
    );
    expectInvalid(
      ivpol().replace('- glob: "ghcr.io/org/*"', '- expression: "true"'),
      /CEL expressions are not supported/,
    );
  });
});

describe('policy files', () => {
  it('loads multi-document files and directories, skipping other objects', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sigil-pol-'));
    writeFileSync(
      join(dir, 'a.yaml'),
      `apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n---\n${clusterPolicy(SEED_RULE)}`,
    );
    writeFileSync(join(dir, 'b.yml'), clusterPolicy(SEED_RULE).replace('name: check-images', 'name: second'));
    writeFileSync(join(dir, 'notes.txt'), 'ignored');
    const all = await loadPolicies([dir], ctx);
    assert.deepEqual(
      all.map((p) => p.name),
      ['check-images', 'second'],
    );
    await assert.rejects(loadPolicies([dir, join(dir, 'a.yaml')], ctx), /defined twice/);
    await assert.rejects(loadPolicies([join(dir, 'missing.yaml')], ctx), (e: unknown) =>
      isSigilError(e, 'INVALID_POLICY'),
    );
  });
  it('refuses invalid YAML and unsupported Kyverno kinds', () => {
    expectInvalid('a: [unclosed', /not valid YAML/);
    expectInvalid(
      'apiVersion: kyverno.io/v1\nkind: PolicyException\nmetadata: {name: x}\n',
      /unsupported policy kind/,
    );
  });
});
