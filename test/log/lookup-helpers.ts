import assert from 'node:assert/strict';
import type { Log } from '../../src/log/index.js';
import { leafHash } from '../../src/merkle/index.js';

/** Small enough that a few hundred entries go through flushes, merges and garbage collection. */
export const LOOKUP_TUNING = { flushAt: 16, stepRows: 24, fanout: 2 };

export function lookupLeaf(n: number): Buffer {
  return Buffer.from(`lookup-leaf:${n}`);
}

/** A key shared by many entries, one shared by few, one unique; some entries have none. */
export function lookupKeys(n: number): string[] {
  if (n % 11 === 5) return [];
  return [`group:${n % 3}`, `pair:${Math.floor(n / 2)}`, `own:${n}`, 'é-ü:ключ'];
}

/**
 * Checks every stored entry against a naive recomputation: found by its leaf hash at its index,
 * and every index key (with several limits) answers exactly the stored entries filed under it.
 */
export async function checkLookups(
  log: Log,
  keysOfLeaf: (leaf: Buffer) => string[],
  limits: readonly number[] = [1, 3, 100, 1000],
): Promise<number> {
  const size = log.latestTreeHead().size;
  const expected = new Map<string, number[]>();
  for (let start = 0; start < size; start += 1000) {
    for (const e of await log.getEntries(start, Math.min(1000, size - start))) {
      const found = await log.findByLeafHash(leafHash(e.leaf));
      assert.equal(found?.index, e.index, `entry ${e.index} found by its leaf hash`);
      for (const k of keysOfLeaf(e.leaf)) {
        const list = expected.get(k) ?? [];
        list.push(e.index);
        expected.set(k, list);
      }
    }
  }
  for (const [key, indexes] of expected) {
    for (const limit of limits) {
      assert.deepEqual(
        await log.lookupIndexKey(key, limit),
        indexes.slice(0, limit),
        `key ${key} limit ${limit}`,
      );
    }
  }
  assert.deepEqual(await log.lookupIndexKey('absent-key'), []);
  assert.equal(await log.findByLeafHash(leafHash(Buffer.from('never appended'))), undefined);
  return expected.size;
}

/** The counter behind a leaf made by lookupLeaf. */
export function counterOf(leaf: Buffer): number {
  const m = /^lookup-leaf:(\d+)$/.exec(leaf.toString());
  assert.ok(m, 'a leaf of the lookup tests');
  return Number(m[1]);
}
