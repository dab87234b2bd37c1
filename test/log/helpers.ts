import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { AppendResult, TreeHeadSigner } from '../../src/log/index.js';
import { verifyInclusion } from '../../src/merkle/index.js';

/** A fresh temporary data directory, removed when the test ends. */
export function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-log-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A deterministic, checkable stand-in for the personality's note signer. */
export const textSigner: TreeHeadSigner = (size, rootHash, timestamp) =>
  `test-log\n${size}\n${rootHash.toString('base64')}\n${timestamp}\n`;

export function leaf(tag: string, i: number): Buffer {
  return Buffer.from(`${tag}:${i}`);
}

/** The append's inclusion proof verifies against the tree head it came with. */
export function assertProof(r: AppendResult): void {
  assert.ok(
    verifyInclusion(r.entry.index, r.treeHead.size, r.entry.leafHash, r.inclusionProof, r.treeHead.rootHash),
    `inclusion proof of ${r.entry.index} in ${r.treeHead.size} verifies`,
  );
}
