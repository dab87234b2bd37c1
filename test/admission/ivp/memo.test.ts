/**
 * A validation's result remembered from one review serves the next only while its answers hold
 * (memo.ts): a verification that no longer holds, an expression reading the object, a different
 * image list each evaluate afresh.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePolicyText } from '../../../src/admission/policy/index.js';
import {
  evaluateIvp,
  targetFor,
  type CompiledIvp,
  type IvpVerifier,
} from '../../../src/admission/ivp/index.js';
import { ATTESTOR_CI, ivpHead } from './testbed.js';

const D = `sha256:${'b'.repeat(64)}`;

function policy(validation: string): CompiledIvp {
  const yaml = `${ivpHead('memo')}  matchImageReferences:
    - glob: "ghcr.io/org/*"
${ATTESTOR_CI}  validations:
    - expression: "${validation}"
      message: denied
`;
  const [p] = parsePolicyText(yaml, 'p.yaml', { hasTrustedRoot: true });
  assert.ok(p?.ivp);
  return p.ivp;
}

/** A verifier whose cached answers (peekSignatures) and fresh ones the test sets. */
function verifier(state: { cached: number | undefined; fresh: number; freshCalls: number }): IvpVerifier {
  return {
    peekSignatures: () => state.cached,
    signatures: async () => {
      state.freshCalls++;
      return state.fresh;
    },
    attestations: () => Promise.reject(new Error('unexpected attestation verification')),
    resolveDigest: () => Promise.reject(new Error('unexpected digest resolution')),
  };
}

function req(images: string[], name = 'x') {
  const object = {
    kind: 'Pod',
    metadata: { name },
    spec: { containers: images.map((image, i) => ({ name: `c${i}`, image })) },
  };
  const input = { kind: 'Pod', namespace: 'default', name, operation: 'CREATE', object };
  return { target: targetFor(input), kind: 'Pod', object };
}

const SIGNED = 'images.containers.map(i, verifyImageSignatures(i, [attestors.ci])).all(e, e > 0)';

test('a remembered pass is not replayed once its verification no longer holds', async () => {
  const p = policy(SIGNED);
  const state = { cached: 1 as number | undefined, fresh: 0, freshCalls: 0 };
  const v = verifier(state);
  const image = `ghcr.io/org/app@${D}`;
  for (let i = 0; i < 3; i++)
    assert.equal((await evaluateIvp(p, req([image]), v, 'validate'))?.status, 'pass');
  assert.equal(state.freshCalls, 0, 'answered from the cache');
  // The cached success expired: the next review verifies afresh, and the signature is gone.
  state.cached = undefined;
  const r = await evaluateIvp(p, req([image]), v, 'validate');
  assert.deepEqual([r?.status, r?.message, state.freshCalls], ['fail', 'denied', 1]);
  // A remembered failure is not replayed as a pass either: verified again, it passes.
  state.fresh = 1;
  assert.equal((await evaluateIvp(p, req([image]), v, 'validate'))?.status, 'pass');
  assert.equal(state.freshCalls, 2);
});

test('results depend on the images given: another image list is evaluated, not replayed', async () => {
  const p = policy(SIGNED);
  const state = { cached: 1 as number | undefined, fresh: 0, freshCalls: 0 };
  const v = verifier(state);
  assert.equal((await evaluateIvp(p, req([`ghcr.io/org/a@${D}`]), v, 'validate'))?.status, 'pass');
  // peekSignatures answers only for cached images: make the second image uncached.
  state.cached = undefined;
  const r = await evaluateIvp(p, req([`ghcr.io/org/a@${D}`, `ghcr.io/org/b@${D}`]), v, 'validate');
  assert.equal(r?.status, 'fail');
});

test('an expression that reads the object is never replayed', async () => {
  const p = policy(`object.metadata.name == 'good' && ${SIGNED}`);
  const state = { cached: 1 as number | undefined, fresh: 1, freshCalls: 0 };
  const v = verifier(state);
  const image = `ghcr.io/org/app@${D}`;
  assert.equal((await evaluateIvp(p, req([image], 'good'), v, 'validate'))?.status, 'pass');
  assert.equal((await evaluateIvp(p, req([image], 'bad'), v, 'validate'))?.status, 'fail');
  assert.equal((await evaluateIvp(p, req([image], 'good'), v, 'validate'))?.status, 'pass');
});
