import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import vectors from '../vectors/rfc6962.json' with { type: 'json' };
import {
  EMPTY_ROOT,
  InMemoryLeaves,
  consistencyProof,
  inclusionProof,
  leafHash,
  rootOf,
  verifyConsistency,
  verifyInclusion,
} from '../../src/merkle/index.js';

const leaves = vectors.leaves.map((h) => leafHash(Buffer.from(h, 'hex')));

test('RFC 6962 roots for every prefix of the reference leaves', () => {
  assert.equal(EMPTY_ROOT.toString('hex'), vectors.emptyRoot);
  vectors.roots.forEach((root, i) => {
    assert.equal(rootOf(leaves.slice(0, i + 1)).toString('hex'), root, `size ${i + 1}`);
  });
});

test('every inclusion and consistency proof over the reference tree verifies', () => {
  const src = new InMemoryLeaves(leaves);
  for (let size = 1; size <= leaves.length; size++) {
    const root = Buffer.from(vectors.roots[size - 1]!, 'hex');
    for (let i = 0; i < size; i++) {
      assert.ok(
        verifyInclusion(i, size, leaves[i]!, inclusionProof(src, i, size), root),
        `incl ${i}/${size}`,
      );
    }
    for (let first = 1; first <= size; first++) {
      const firstRoot = Buffer.from(vectors.roots[first - 1]!, 'hex');
      const proof = consistencyProof(src, first, size);
      assert.ok(verifyConsistency(first, size, firstRoot, root, proof), `cons ${first}->${size}`);
    }
  }
});

test('known proof shapes from RFC 6962 section 2.1.3', () => {
  const src = new InMemoryLeaves(leaves);
  assert.equal(consistencyProof(src, 6, 8).length, 3);
  assert.equal(inclusionProof(src, 0, 8).length, 3);
  assert.equal(inclusionProof(src, 6, 7).length, 2);
  assert.equal(consistencyProof(src, 4, 8).length, 1);
});

const treeArb = fc
  .array(fc.uint8Array({ maxLength: 8 }), { minLength: 1, maxLength: 70 })
  .map((data) => data.map((d) => leafHash(d)));

test('property: inclusion proofs verify and every alteration fails', () => {
  fc.assert(
    fc.property(treeArb, fc.nat(), fc.nat(), (hashes, a, b) => {
      const src = new InMemoryLeaves(hashes);
      const size = hashes.length;
      const index = a % size;
      const root = rootOf(hashes);
      const proof = inclusionProof(src, index, size);
      assert.ok(verifyInclusion(index, size, hashes[index]!, proof, root));
      if (proof.length > 0) {
        const k = b % proof.length;
        const bad = proof.map((p, j) => (j === k ? Buffer.from(p).fill(p[0]! ^ 1, 0, 1) : p));
        assert.ok(!verifyInclusion(index, size, hashes[index]!, bad, root));
        assert.ok(!verifyInclusion(index, size, hashes[index]!, proof.slice(1), root));
      }
      assert.ok(!verifyInclusion(index, size, hashes[index]!, [...proof, root], root));
      const wrongLeaf = leafHash(Buffer.from('not a leaf'));
      assert.ok(!verifyInclusion(index, size, wrongLeaf, proof, root));
    }),
    { numRuns: 300 },
  );
});

test('property: consistency proofs verify and every alteration fails', () => {
  fc.assert(
    fc.property(treeArb, fc.nat(), fc.nat(), (hashes, a, b) => {
      const src = new InMemoryLeaves(hashes);
      const second = hashes.length;
      const first = (a % second) + 1;
      const r1 = rootOf(hashes.slice(0, first));
      const r2 = rootOf(hashes);
      const proof = consistencyProof(src, first, second);
      assert.ok(verifyConsistency(first, second, r1, r2, proof));
      if (proof.length > 0) {
        const k = b % proof.length;
        const bad = proof.map((p, j) => (j === k ? Buffer.from(p).fill(p[0]! ^ 1, 0, 1) : p));
        assert.ok(!verifyConsistency(first, second, r1, r2, bad));
      }
      if (first < second) {
        assert.ok(!verifyConsistency(first, second, r2, r2, proof) || Buffer.compare(r1, r2) === 0);
        assert.ok(!verifyConsistency(first, second, r1, r1, proof));
      }
    }),
    { numRuns: 300 },
  );
});

test('malformed inputs are rejected, not thrown', () => {
  const root = rootOf(leaves);
  assert.equal(verifyInclusion(8, 8, leaves[0]!, [], root), false);
  assert.equal(verifyInclusion(-1, 8, leaves[0]!, [], root), false);
  assert.equal(verifyInclusion(0, 8, leaves[0]!, [Buffer.alloc(3)], root), false);
  assert.equal(verifyConsistency(9, 8, root, root, []), false);
  assert.equal(verifyConsistency(4, 8, root, root, []), false);
});
