import assert from 'node:assert/strict';
import { test } from 'node:test';
import { composingSource, nodeKey } from '../../src/log/hash-source.js';
import type { NodeId } from '../../src/log/store/types.js';
import { leafHash, nodeHash, rootOf } from '../../src/merkle/index.js';

test('a range computed twice in one pass over a missing node is not memoized with its placeholder', () => {
  const leaves = [0, 1, 2].map((i) => leafHash(Buffer.from(`leaf ${i}`)));
  const all = new Map<number, Buffer>([
    [nodeKey(0, 0), leaves[0]!],
    [nodeKey(0, 1), leaves[1]!],
    [nodeKey(0, 2), leaves[2]!],
    [nodeKey(1, 0), nodeHash(leaves[0]!, leaves[1]!)],
  ]);
  const have = new Map(all);
  have.delete(nodeKey(1, 0)); // not at hand in the first pass
  const memo = new Map<string, Buffer>();
  const missing = new Map<number, NodeId>();
  const first = composingSource((l, i) => have.get(nodeKey(l, i)), missing, memo);
  first.hashRange(0, 3);
  first.hashRange(0, 3); // the same missing node again: missing.size does not grow
  assert.deepEqual([...missing.values()], [{ level: 1, index: 0 }]);
  // Second pass, node fetched, same memo (as withSource runs it): the true root.
  const second = composingSource((l, i) => all.get(nodeKey(l, i)), new Map(), memo);
  assert.equal(second.hashRange(0, 3).toString('hex'), rootOf(leaves).toString('hex'));
});
