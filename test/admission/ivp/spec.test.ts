import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parsePolicyText } from '../../../src/admission/policy/index.js';
import {
  evaluateIvp,
  targetFor,
  type CompiledIvp,
  type IvpVerifier,
} from '../../../src/admission/ivp/index.js';
import { SHARED_DIR, requireSharedFile } from '../../helpers/env.js';

const FIXTURES = join(SHARED_DIR, 'fixtures', 'kyverno-image-policies');

const KEY = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE8nXRh950IZbRj8Ra/N9sbqOPZrfM
5/KAQN0/KjHcorm/J5yctVd7iEcnessRQjU917hmKO6JWVGHpDguIyakZA==
-----END PUBLIC KEY-----`;

function ivpText(spec: string, kind = 'ImageValidatingPolicy', api = 'policies.kyverno.io/v1'): string {
  return `apiVersion: ${api}\nkind: ${kind}\nmetadata:\n  name: p\nspec:\n${spec}`;
}
const MATCH = `  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: ["v1"]
        operations: ["CREATE"]
        resources: ["pods"]
`;
const KEY_ATTESTOR = `  attestors:
    - name: key
      cosign:
        key:
          data: |
${KEY.split('\n')
  .map((l) => `            ${l}`)
  .join('\n')}
`;

function load(spec: string, kind?: string, api?: string): CompiledIvp {
  const [p] = parsePolicyText(ivpText(spec, kind, api), 'p.yaml', { hasTrustedRoot: true });
  assert.ok(p?.ivp, 'compiled as an IVP');
  return p.ivp;
}
function refused(spec: string, why: RegExp): void {
  assert.throws(() => parsePolicyText(ivpText(spec), 'p.yaml', { hasTrustedRoot: true }), why);
}

/** The evaluator must not ask for any verification in these cases: every call fails the test. */
const NO_CALLS: IvpVerifier = {
  signatures: () => Promise.reject(new Error('unexpected signature verification')),
  attestations: () => Promise.reject(new Error('unexpected attestation verification')),
  resolveDigest: () => Promise.reject(new Error('unexpected digest resolution')),
};

function podReq(images: string[], labels: Record<string, string> = {}, kind = 'Pod') {
  const spec = { containers: images.map((image, i) => ({ name: `c${i}`, image })) };
  const object =
    kind === 'Pod'
      ? { kind, metadata: { name: 'x', labels }, spec }
      : { kind, metadata: { name: 'x' }, spec: { template: { metadata: { labels }, spec } } };
  const input = { kind, namespace: 'default', name: 'x', operation: 'CREATE', object };
  return { target: targetFor(input), kind, object };
}

test('load refusals name the field, and CEL errors their position', () => {
  refused(
    `${MATCH}  validationActions: [Deny, Warn]\n  validations:\n    - expression: "true"\n`,
    /validationActions: Deny and Warn cannot be used together/,
  );
  refused(`  validations:\n    - expression: "true"\n`, /spec\.matchConstraints: is required/);
  refused(
    `${MATCH}  validations:\n    - expression: "object.spec.?containers.orValue([]).size() > 0"\n`,
    /spec\.validations\[0\]\.expression: syntax error: at 1:12/,
  );
  refused(
    `${MATCH}  matchImageReferences:\n    - glob: "ghcr.io/[ab]*"\n  validations:\n    - expression: "true"\n`,
    /matchImageReferences\[0\]\.glob: glob character classes/,
  );
  refused(
    `${MATCH}  matchImageReferences:\n    - expression: "image.registry == 'ghcr.io'"\n  validations:\n    - expression: "true"\n`,
    /undeclared reference to 'image'/,
  );
  refused(
    `${MATCH}  attestations:\n    - name: sbom\n      referrer:\n        type: sbom/cyclone-dx\n      intoto:\n        type: x\n  validations:\n    - expression: "true"\n`,
    /attestations\[0\]: exactly one of intoto or referrer is required/,
  );
  refused(
    `${MATCH}  attestors:\n    - name: k\n      cosign:\n        key:\n          kms: awskms:///alias/x\n  validations:\n    - expression: "true"\n`,
    /cosign\.key\.kms: KMS keys are not supported: the webhook calls no cloud KMS API/,
  );
  refused(
    `${MATCH}  attestors:\n    - name: n\n      notary:\n        certs:\n          value: x\n  validations:\n    - expression: "true"\n`,
    /attestors\[0\]\.notary: notary attestors are not supported/,
  );
  refused(
    `${MATCH}  attestors:\n    - name: t\n      cosign:\n        keyless:\n          identities: [{subject: a, issuer: b}]\n        tuf:\n          root:\n            path: /x\n  validations:\n    - expression: "true"\n`,
    /cosign\.tuf\.root\.path: cannot read "\/x"/,
  );
  refused(`${MATCH}  validations:\n    - expression: "'a' + 'b'"\n`, /must return bool/);
  refused(
    `${MATCH}    namespaceSelector:\n      matchLabels: {env: prod}\n  validations:\n    - expression: "true"\n`,
    /matchConstraints\.namespaceSelector: is not supported: AdmissionReviews carry no namespace labels/,
  );
});

test('matchConstraints: objectSelector, excluded resources and operations decide applicability', async () => {
  const p = load(`  matchConstraints:
    objectSelector:
      matchExpressions:
        - {key: app, operator: In, values: [web]}
    resourceRules:
      - apiGroups: [""]
        apiVersions: ["v1"]
        operations: ["CREATE"]
        resources: ["pods"]
  validationConfigurations: {required: false, verifyDigest: false}
  validations:
    - expression: "false"
      message: applied
`);
  assert.equal(
    (await evaluateIvp(p, podReq(['a:1'], { app: 'web' }), NO_CALLS, 'validate'))?.message,
    'applied',
  );
  assert.equal(await evaluateIvp(p, podReq(['a:1'], { app: 'db' }), NO_CALLS, 'validate'), undefined);
  assert.equal(p.autogen.size, 0, 'an objectSelector switches autogen off, as in Kyverno');
  const update = { ...podReq(['a:1'], { app: 'web' }) };
  update.target = { ...update.target, operation: 'UPDATE' };
  assert.equal(
    await evaluateIvp(p, update, NO_CALLS, 'validate'),
    undefined,
    'UPDATE is not among the operations',
  );
  const status = { ...podReq(['a:1'], { app: 'web' }) };
  status.target = { ...status.target, subResource: 'status' };
  assert.equal(
    await evaluateIvp(p, status, NO_CALLS, 'validate'),
    undefined,
    'pods does not match pods/status',
  );
});

test('v1, v1beta1 and v1alpha1 spellings load alike; defaults are Kyverno’s', () => {
  for (const api of [
    'policies.kyverno.io/v1',
    'policies.kyverno.io/v1beta1',
    'policies.kyverno.io/v1alpha1',
  ]) {
    const p = load(
      `${MATCH}${KEY_ATTESTOR}  validations:\n    - expression: "true"\n`,
      'ImageValidatingPolicy',
      api,
    );
    assert.deepEqual([...p.actions], ['Deny']);
    assert.equal(p.failurePolicy, 'Fail');
    assert.deepEqual([p.mutateDigest, p.verifyDigest, p.required], [true, true, true]);
    assert.deepEqual([...p.autogen.keys()].sort(), [
      'CronJob',
      'DaemonSet',
      'Deployment',
      'Job',
      'ReplicaSet',
      'StatefulSet',
    ]);
  }
  const n = load(`${MATCH}  validations:\n    - expression: "true"\n`, 'NamespacedImageValidatingPolicy');
  assert.equal(n.namespace, 'default');
  const some = load(
    `${MATCH}  autogen:\n    podControllers:\n      controllers: [deployments, cronjobs]\n  validations:\n    - expression: "true"\n`,
  );
  assert.deepEqual(
    [...some.autogen.entries()],
    [
      ['Deployment', 'defaults'],
      ['CronJob', 'cronjobs'],
    ],
  );
});

test('validations: the first false decides, with message, messageExpression or the index', async () => {
  const p = load(`${MATCH}  validationConfigurations: {required: false}
  validations:
    - expression: "object.metadata.name == 'x'"
      message: never shown
    - expression: "size(images.containers) < 2"
      messageExpression: "'too many images: ' + string(size(images.containers))"
    - expression: "images.containers.all(i, parseImageReference(i).registry() == 'ghcr.io')"
`);
  const one = await evaluateIvp(p, podReq(['ghcr.io/a/b@sha256:' + 'a'.repeat(64)]), NO_CALLS, 'validate');
  assert.equal(one?.status, 'pass');
  const two = await evaluateIvp(
    p,
    podReq(['ghcr.io/a@sha256:' + 'a'.repeat(64), 'ghcr.io/b@sha256:' + 'b'.repeat(64)]),
    NO_CALLS,
    'validate',
  );
  assert.deepEqual([two?.status, two?.message], ['fail', 'too many images: 2']);
  const other = await evaluateIvp(
    p,
    podReq(['docker.io/library/nginx@sha256:' + 'c'.repeat(64)]),
    NO_CALLS,
    'validate',
  );
  assert.deepEqual([other?.status, other?.message], ['fail', 'CEL expression validation failed at index 2']);
});

test('verifyDigest, required, matchConditions and the JSON mode as Kyverno’s evaluator tests pin them', async () => {
  const base = (cfg: string, extra = '') =>
    load(
      `${MATCH}${extra}  matchImageReferences:\n    - glob: "ghcr.io/*"\n  validationConfigurations: ${cfg}\n  validations:\n    - expression: "true"\n`,
    );
  const tagOnly = await evaluateIvp(
    base('{}'),
    podReq(['ghcr.io/kyverno/test-verify-image:latest']),
    NO_CALLS,
    'validate',
  );
  assert.deepEqual(
    [tagOnly?.status, tagOnly?.message],
    ['fail', 'image ghcr.io/kyverno/test-verify-image:latest does not have a digest'],
  );
  const pinned = `ghcr.io/kyverno/test-verify-image@sha256:${'d'.repeat(64)}`;
  const req = await evaluateIvp(base('{}'), podReq([pinned]), NO_CALLS, 'validate');
  assert.deepEqual(
    [req?.status, req?.message],
    ['fail', `image ${pinned} is not verified: no policy performed a signature or attestation check on it`],
  );
  assert.equal(
    (await evaluateIvp(base('{required: false}'), podReq([pinned]), NO_CALLS, 'validate'))?.status,
    'pass',
  );
  // No image matches the glob: nothing to verify, pass.
  assert.equal(
    (await evaluateIvp(base('{}'), podReq(['nginx:latest']), NO_CALLS, 'validate'))?.status,
    'pass',
  );
  const gated = base(
    '{required: false}',
    `  matchConditions:\n    - name: prod\n      expression: "has(object.metadata.labels) && has(object.metadata.labels.prod) && object.metadata.labels.prod == 'true'"\n`,
  );
  assert.equal(await evaluateIvp(gated, podReq([pinned]), NO_CALLS, 'validate'), undefined, 'not applicable');
  assert.equal(
    (await evaluateIvp(gated, podReq([pinned], { prod: 'true' }), NO_CALLS, 'validate'))?.status,
    'pass',
  );
  // autogen: the Deployment variant reads the template's labels.
  assert.equal(
    (await evaluateIvp(gated, podReq([pinned], { prod: 'true' }, 'Deployment'), NO_CALLS, 'validate'))
      ?.status,
    'pass',
  );
  assert.equal(await evaluateIvp(gated, podReq([pinned], {}, 'Deployment'), NO_CALLS, 'validate'), undefined);

  const json = load(
    `  evaluation:\n    mode: JSON\n  images:\n    - name: bar\n      expression: "[object.foo.bar]"\n  matchImageReferences:\n    - glob: "ghcr.io/*"\n  validationConfigurations: {verifyDigest: false}\n  validations:\n    - expression: "images.bar.all(i, i.startsWith('ghcr.io/'))"\n`,
  );
  const jreq = (bar: string) => ({
    target: targetFor({ kind: '', namespace: '', name: '', operation: 'CREATE', object: {} }),
    kind: '',
    object: { foo: { bar } },
    json: true,
  });
  assert.equal(
    (await evaluateIvp(json, jreq('docker.io/library/nginx:latest'), NO_CALLS, 'validate'))?.status,
    'pass',
  );
  // An admission request is never decided by a JSON-mode policy, nor a JSON payload by a Kubernetes one.
  assert.equal(await evaluateIvp(json, podReq(['ghcr.io/x:1']), NO_CALLS, 'validate'), undefined);
  assert.equal(await evaluateIvp(gated, jreq('ghcr.io/x:1'), NO_CALLS, 'validate'), undefined);
  const jfail = await evaluateIvp(
    json,
    jreq('ghcr.io/kyverno/test-verify-image:signed'),
    NO_CALLS,
    'validate',
  );
  assert.deepEqual(
    [jfail?.status, jfail?.message],
    [
      'fail',
      'image ghcr.io/kyverno/test-verify-image:signed is not verified: no policy performed a signature or attestation check on it',
    ],
  );
});

test('upstream fixtures: cosign policies load, notary ones are refused naming the field', (t) => {
  const file = (p: string) => join(FIXTURES, p);
  if (!requireSharedFile(t, file('ivpol-chainsaw/standard_notary-basic/policy.yaml'))) return;
  const read = (p: string) => parsePolicyText(readFileSync(file(p), 'utf8'), p, { hasTrustedRoot: true });
  const att = read('ivpol-chainsaw/standard_cosign-attestation-extract-cache-hit/policy.yaml')[0]!.ivp!;
  assert.equal(
    att.attestations.get('slsa')?.type ?? [...att.attestations.values()][0]?.type,
    'https://slsa.dev/provenance/v1',
  );
  const md = read('ivpol-chainsaw/mutate-digest/policy.yaml')[0]!.ivp!;
  assert.equal(md.mutateDigest, true);
  assert.equal(md.attestors.size, 0);
  assert.throws(
    () => read('ivpol-chainsaw/standard_notary-basic/policy.yaml'),
    /spec\.attestors\[0\]\.notary: notary attestors are not supported/,
  );
  assert.throws(
    () => read('ivpol-chainsaw/subresources_block-ephemeral-containers/policy.yaml'),
    /syntax error/,
  );
});

test('one budget spans all expressions of an evaluation: many costly validations end in an error', async () => {
  const costly = '    - expression: "object.spec.l.all(a, object.spec.l.all(b, a >= 0))"\n';
  const p = load(
    `${MATCH}  validationConfigurations: {required: false, verifyDigest: false}\n  validations:\n${costly.repeat(8)}`,
  );
  const object = {
    kind: 'Pod',
    metadata: { name: 'x' },
    spec: { l: Array.from({ length: 400 }, (_, i) => i) },
  };
  const input = { kind: 'Pod', namespace: 'default', name: 'x', operation: 'CREATE', object };
  const r = await evaluateIvp(p, { target: targetFor(input), kind: 'Pod', object }, NO_CALLS, 'validate');
  assert.equal(r?.status, 'error');
  assert.match(r!.message, /cost limit exceeded/);
  // Each alone (400² steps) is within the per-expression budget.
  const one = load(
    `${MATCH}  validationConfigurations: {required: false, verifyDigest: false}\n  validations:\n${costly}`,
  );
  assert.equal(
    (await evaluateIvp(one, { target: targetFor(input), kind: 'Pod', object }, NO_CALLS, 'validate'))?.status,
    'pass',
  );
});
