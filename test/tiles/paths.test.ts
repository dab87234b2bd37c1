import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSigilError } from '../../src/errors/index.js';
import { decodeEntryBundle, encodeEntryBundle } from '../../src/log/tiles/bundle.js';
import {
  encodeTileIndex,
  newTiles,
  parseTilePath,
  tilePath,
  type TileId,
} from '../../src/log/tiles/paths.js';

test('tile index encoding (C2SP examples and edges)', () => {
  const table: [number, string][] = [
    [0, '000'],
    [7, '007'],
    [999, '999'],
    [1000, 'x001/000'],
    [1234067, 'x001/x234/067'],
    [1_000_000, 'x001/x000/000'],
    [2 ** 40, 'x001/x099/x511/x627/776'],
  ];
  for (const [n, s] of table) assert.equal(encodeTileIndex(n), s, `N=${n}`);
});

test('tile paths format and parse back (full, partial, entries)', () => {
  const table: [TileId, string][] = [
    [{ level: 0, index: 0, width: 256 }, 'tile/0/000'],
    [{ level: 0, index: 1234067, width: 256 }, 'tile/0/x001/x234/067'],
    [{ level: 1, index: 3, width: 17 }, 'tile/1/003.p/17'],
    [{ level: 'entries', index: 1000, width: 1 }, 'tile/entries/x001/000.p/1'],
    [{ level: 'entries', index: 5, width: 255 }, 'tile/entries/005.p/255'],
    [{ level: 6, index: 0, width: 256 }, 'tile/6/000'],
  ];
  for (const [id, path] of table) {
    assert.equal(tilePath(id), path);
    assert.deepEqual(parseTilePath(path), id);
  }
});

test('non-canonical or hostile tile paths are INVALID_INPUT', () => {
  for (const bad of [
    'tile/0/0',
    'tile/0/0000',
    'tile/0/x000/001',
    'tile/0/001.p/0',
    'tile/0/001.p/256',
    'tile/0/001.p/007',
    'tile/7/000',
    'tile/-1/000',
    'tile/0/../000',
    'tile/0/x1/000',
    'tile/entries/001/',
    'tile/0/x001/x002/x003/x004/x005/x006/007',
    'tile/0/x010/x000/x000/x000/x000/000',
    `tile/0/${'x001/'.repeat(40)}001`,
    'tile/data/000',
  ]) {
    assert.throws(
      () => parseTilePath(bad),
      (e: unknown) => isSigilError(e, 'INVALID_INPUT'),
      bad,
    );
  }
});

test('newTiles lists exactly the tiles a tree size adds', () => {
  assert.deepEqual(newTiles(0, 0), []);
  assert.deepEqual(newTiles(0, 1), [
    { level: 0, index: 0, width: 1 },
    { level: 'entries', index: 0, width: 1 },
  ]);
  assert.deepEqual(newTiles(0, 256), [
    { level: 0, index: 0, width: 256 },
    { level: 'entries', index: 0, width: 256 },
    { level: 1, index: 0, width: 1 },
  ]);
  // 256·256 + 3: level 0 has 256 full tiles and one of width 3; level 1 one full tile; level 2 width 1.
  const all = newTiles(0, 65539);
  assert.equal(all.filter((t) => t.level === 0).length, 257);
  assert.deepEqual(
    all.filter((t) => t.level === 1),
    [{ level: 1, index: 0, width: 256 }],
  );
  assert.deepEqual(
    all.filter((t) => t.level === 2),
    [{ level: 2, index: 0, width: 1 }],
  );
  // Growth within a tile re-publishes only that tile (new width) and what sits above it.
  assert.deepEqual(newTiles(300, 310), [
    { level: 0, index: 1, width: 54 },
    { level: 'entries', index: 1, width: 54 },
  ]);
  assert.deepEqual(newTiles(511, 513), [
    { level: 0, index: 1, width: 256 },
    { level: 'entries', index: 1, width: 256 },
    { level: 0, index: 2, width: 1 },
    { level: 'entries', index: 2, width: 1 },
    { level: 1, index: 0, width: 2 },
  ]);
  assert.throws(() => newTiles(5, 4), RangeError);
});

test('entry bundles are uint16-length-prefixed and round-trip; truncation is refused', () => {
  const entries = [Buffer.from('a'), Buffer.alloc(0), Buffer.alloc(300, 7), Buffer.alloc(0xffff, 1)];
  const b = encodeEntryBundle(entries);
  assert.equal(
    b.length,
    entries.reduce((n, e) => n + 2 + e.length, 0),
  );
  assert.deepEqual([...b.subarray(0, 3)], [0, 1, 0x61]);
  assert.deepEqual(decodeEntryBundle(b), entries);
  assert.throws(
    () => decodeEntryBundle(b.subarray(0, b.length - 1)),
    (e: unknown) => isSigilError(e, 'INVALID_INPUT'),
  );
  assert.throws(
    () => decodeEntryBundle(Buffer.from([0])),
    (e: unknown) => isSigilError(e, 'INVALID_INPUT'),
  );
  assert.throws(
    () => encodeEntryBundle([Buffer.alloc(0x10000)]),
    (e: unknown) => isSigilError(e, 'TOO_LARGE'),
  );
});
