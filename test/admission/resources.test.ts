import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSigilError } from '../../src/errors/index.js';
import { extractImages, POD_SPEC_PATH } from '../../src/admission/resources.js';
import { blockedMessage, decide, type ImageResult } from '../../src/admission/decision.js';
import { admissionResponse, parseAdmissionReview } from '../../src/admission/review.js';
import type { ResourceKind } from '../../src/admission/policy/index.js';

const podSpec = {
  initContainers: [{ name: 'init', image: 'reg/init:1' }],
  containers: [
    { name: 'a', image: 'reg/a:1' },
    { name: 'b', image: 'reg/b@sha256:' + 'b'.repeat(64) },
  ],
  ephemeralContainers: [{ name: 'debug', image: 'busybox' }],
};

function wrap(kind: ResourceKind): unknown {
  switch (kind) {
    case 'Pod':
      return { spec: podSpec };
    case 'CronJob':
      return { spec: { jobTemplate: { spec: { template: { spec: podSpec } } } } };
    default:
      return { spec: { template: { spec: podSpec } } };
  }
}

describe('image extraction', () => {
  const prefixes: Record<ResourceKind, string> = {
    Pod: '/spec',
    Deployment: '/spec/template/spec',
    StatefulSet: '/spec/template/spec',
    DaemonSet: '/spec/template/spec',
    ReplicaSet: '/spec/template/spec',
    ReplicationController: '/spec/template/spec',
    Job: '/spec/template/spec',
    CronJob: '/spec/jobTemplate/spec/template/spec',
  };
  for (const kind of Object.keys(POD_SPEC_PATH) as ResourceKind[]) {
    it(`${kind}: every container list, with JSON pointers`, () => {
      const got = extractImages(kind, wrap(kind));
      const p = prefixes[kind];
      assert.deepEqual(
        got.map((i) => [i.pointer, i.image, i.containerName]),
        [
          [`${p}/initContainers/0/image`, 'reg/init:1', 'init'],
          [`${p}/containers/0/image`, 'reg/a:1', 'a'],
          [`${p}/containers/1/image`, `reg/b@sha256:${'b'.repeat(64)}`, 'b'],
          [`${p}/ephemeralContainers/0/image`, 'busybox', 'debug'],
        ],
      );
    });
  }
  it('a container without an image string is refused, not skipped', () => {
    for (const bad of [{ name: 'x' }, { name: 'x', image: 7 }, { name: 'x', image: '' }]) {
      assert.throws(
        () => extractImages('Pod', { spec: { containers: [bad] } }),
        (e: unknown) => isSigilError(e, 'INVALID_INPUT'),
      );
    }
    assert.throws(
      () => extractImages('Pod', { spec: { containers: {} } }),
      (e: unknown) => isSigilError(e, 'INVALID_INPUT'),
    );
  });
  it('bounds the number of images', () => {
    const containers = Array.from({ length: 300 }, (_, i) => ({ name: `c${i}`, image: 'x' }));
    assert.throws(() => extractImages('Pod', { spec: { containers } }), /more than 256/);
  });
  it('an object without a pod spec has no images', () => {
    assert.deepEqual(extractImages('Deployment', { spec: {} }), []);
  });
});

function result(over: Partial<ImageResult>): ImageResult {
  return {
    policy: 'check-images',
    rule: 'check-signature',
    image: 'reg/org/rs-cart:1',
    pointer: '/spec/containers/0/image',
    status: 'pass',
    message: 'verified image signatures for reg/org/rs-cart:1',
    failureAction: 'Enforce',
    failurePolicy: 'Fail',
    mutateDigest: true,
    ...over,
  };
}

describe('decisions', () => {
  const id = { kind: 'Pod', namespace: 'default', name: 'web' };
  it('formats the Kyverno block message', () => {
    const msg = blockedMessage(id, [
      result({
        status: 'fail',
        message: 'failed to verify image a: .attestors[0].entries[0].keyless: no signatures found',
      }),
      result({ status: 'fail', rule: 'other', message: 'failed to verify image b: x' }),
      result({ status: 'fail', message: 'failed to verify image c: y', pointer: '/spec/containers/1/image' }),
      result({ policy: 'second', status: 'error', message: 'failed to verify image d: registry down' }),
    ]);
    assert.equal(
      msg,
      '\n\nresource Pod/default/web was blocked due to the following policies \n\n' +
        'check-images:\n' +
        '  check-signature: failed to verify image a: .attestors[0].entries[0].keyless: no signatures found; failed to verify image c: y\n' +
        '  other: failed to verify image b: x\n' +
        'second:\n' +
        '  check-signature: failed to verify image d: registry down\n',
    );
  });
  it('Enforce failure denies; Audit failure warns; error follows the failure policy', () => {
    assert.equal(decide(id, [result({ status: 'fail' })], false).allowed, false);
    const audit = decide(id, [result({ status: 'fail', failureAction: 'Audit', message: 'bad' })], false);
    assert.equal(audit.allowed, true);
    assert.deepEqual(audit.warnings, ['policy check-images.check-signature: bad (audit: admitted)']);
    assert.equal(
      decide(id, [result({ status: 'error', failureAction: 'Audit' })], false).allowed,
      false,
      'Fail blocks errors even in Audit',
    );
    const ignored = decide(
      id,
      [result({ status: 'error', failurePolicy: 'Ignore', message: 'down' })],
      false,
    );
    assert.equal(ignored.allowed, true);
    assert.match(ignored.warnings[0]!, /down \(failurePolicy Ignore: admitted unverified\)/);
  });
  it('patches each verified tag once, only when mutating and allowed', () => {
    const pinned = `reg/org/rs-cart:1@sha256:${'a'.repeat(64)}`;
    const rs = [
      result({ pinned }),
      result({ rule: 'r2', pinned }),
      result({ pointer: '/spec/initContainers/0/image', pinned: 'x@sha256:1', mutateDigest: false }),
      result({ pointer: '/spec/containers/1/image' }),
    ];
    assert.deepEqual(decide(id, rs, true).patch, [
      { op: 'replace', path: '/spec/containers/0/image', value: pinned },
    ]);
    assert.deepEqual(decide(id, rs, false).patch, []);
    assert.deepEqual(decide(id, [...rs, result({ status: 'fail' })], true).patch, []);
  });
});

describe('AdmissionReview', () => {
  const review = (over: Record<string, unknown> = {}) => ({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      namespace: 'default',
      operation: 'CREATE',
      object: {
        metadata: { name: 'web', annotations: { 'kyverno.io/verify-images': '{"x":"pass"}' } },
        spec: podSpec,
      },
      ...over,
    },
  });
  it('reads uid, kind, namespace, name, operation', () => {
    const { uid, input } = parseAdmissionReview(review());
    assert.equal(uid, '705ab4f5-6393-11e8-b7cc-42010a800002');
    assert.deepEqual(
      [input.kind, input.namespace, input.name, input.operation],
      ['Pod', 'default', 'web', 'CREATE'],
    );
  });
  it('falls back to generateName for controller-created pods', () => {
    const { input } = parseAdmissionReview(
      review({ object: { metadata: { generateName: 'web-7d9f-' }, spec: podSpec } }),
    );
    assert.equal(input.name, 'web-7d9f-');
  });
  for (const [name, body] of [
    ['not an object', 'x'],
    ['wrong apiVersion', { ...review(), apiVersion: 'admission.k8s.io/v1beta1' }],
    ['no request', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }],
    ['no uid', review({ uid: undefined })],
    ['numeric uid', review({ uid: 5 })],
    ['unknown operation', review({ operation: 'PATCH' })],
    ['CREATE without object', review({ object: undefined })],
  ] as const) {
    it(`refuses ${name}`, () => {
      assert.throws(
        () => parseAdmissionReview(body),
        (e: unknown) => isSigilError(e, 'INVALID_INPUT'),
      );
    });
  }
  it('answers with the uid, 403 + message on deny, base64 JSON Patch on mutation', () => {
    const deny = admissionResponse('u1', {
      allowed: false,
      message: 'no',
      warnings: ['w'],
      patch: [],
      results: [],
    });
    assert.deepEqual(deny, {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: {
        uid: 'u1',
        allowed: false,
        status: { code: 403, reason: 'Forbidden', message: 'no' },
        warnings: ['w'],
      },
    });
    const patch = [{ op: 'replace' as const, path: '/spec/containers/0/image', value: 'r/x:1@sha256:ab' }];
    const ok = admissionResponse('u2', { allowed: true, warnings: [], patch, results: [] });
    assert.equal(ok.response.patchType, 'JSONPatch');
    assert.deepEqual(JSON.parse(Buffer.from(ok.response.patch!, 'base64').toString()), patch);
  });
});
