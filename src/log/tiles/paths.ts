import { SigilError } from '../../errors/index.js';

/** Hashes per full tile (C2SP tlog-tiles: tile height 8). */
export const TILE_WIDTH = 256;
export const TILE_HEIGHT = 8;
export const HASH_SIZE = 32;
/** Deepest tile level a tree of size < 2^53 can need. */
export const MAX_TILE_LEVEL = 6;

/** A tile (or an entry bundle, level -1) and its width: 256 for a full tile, 1–255 for a partial one. */
export interface TileId {
  /** Tile level 0–MAX_TILE_LEVEL, or 'entries' for an entry bundle. */
  level: number | 'entries';
  index: number;
  width: number;
}

/** N as zero-padded 3-digit path elements, all but the last prefixed with x: 1234067 → x001/x234/067. */
export function encodeTileIndex(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0)
    throw new RangeError(`tile index ${n} is not a non-negative integer`);
  const parts: string[] = [];
  let rest = n;
  do {
    parts.unshift(String(rest % 1000).padStart(3, '0'));
    rest = Math.floor(rest / 1000);
  } while (rest > 0);
  return parts.map((p, i) => (i < parts.length - 1 ? `x${p}` : p)).join('/');
}

/** The path of a tile under the tlog-tiles prefix, without a leading slash. */
export function tilePath(t: TileId): string {
  if (!(Number.isInteger(t.width) && t.width >= 1 && t.width <= TILE_WIDTH))
    throw new RangeError(`tile width ${t.width}`);
  const level = t.level === 'entries' ? 'entries' : String(t.level);
  const partial = t.width < TILE_WIDTH ? `.p/${t.width}` : '';
  return `tile/${level}/${encodeTileIndex(t.index)}${partial}`;
}

const TILE_PATH =
  /^tile\/(entries|[0-9]|[1-5][0-9]|6[0-3])\/((?:x[0-9]{3}\/)*)([0-9]{3})(?:\.p\/([1-9][0-9]?|1[0-9]{2}|2[0-4][0-9]|25[0-5]))?$/;

/** Parses a tile path (without leading slash); INVALID_INPUT for anything that is not one. */
export function parseTilePath(path: string): TileId {
  const m = path.length <= 100 ? TILE_PATH.exec(path) : null;
  if (!m)
    throw new SigilError(
      'INVALID_INPUT',
      'not a tile path: tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>]',
    );
  const elements = [
    ...(m[2] ?? '')
      .split('/')
      .filter((e) => e !== '')
      .map((e) => e.slice(1)),
    m[3]!,
  ];
  if (elements.length > 6) throw new SigilError('INVALID_INPUT', 'tile index too large');
  const index = elements.reduce((acc, e) => acc * 1000 + Number(e), 0);
  if (!Number.isSafeInteger(index)) throw new SigilError('INVALID_INPUT', 'tile index too large');
  const level = m[1] === 'entries' ? 'entries' : Number(m[1]);
  if (typeof level === 'number' && level > MAX_TILE_LEVEL)
    throw new SigilError('INVALID_INPUT', `tile level ${level} is beyond ${MAX_TILE_LEVEL}`);
  // Canonical form only: the leading element may not be a zero group (x000/…) unless it is alone.
  if (elements.length > 1 && elements[0] === '000')
    throw new SigilError('INVALID_INPUT', 'tile index is not in canonical form');
  return { level, index, width: m[4] === undefined ? TILE_WIDTH : Number(m[4]) };
}

/** Hashes stored at tile level `level` for a tree of `size` (nodes of Merkle level 8·level). */
export function hashesAtLevel(size: number, level: number): number {
  return Math.floor(size / TILE_WIDTH ** level);
}

/**
 * Every tile a tree of `size` publishes that a tree of `previous` did not (all of them when
 * previous = 0), lowest level first, entry bundles beside level 0. Full tiles are listed once;
 * the last tile of each level is partial unless the level's count is a multiple of 256.
 */
export function newTiles(previous: number, size: number): TileId[] {
  if (!(Number.isSafeInteger(previous) && Number.isSafeInteger(size) && previous >= 0 && previous <= size)) {
    throw new RangeError(`tile range ${previous}…${size}`);
  }
  const out: TileId[] = [];
  for (let level = 0; level <= MAX_TILE_LEVEL; level++) {
    const count = hashesAtLevel(size, level);
    if (count === 0) break;
    const before = hashesAtLevel(previous, level);
    if (before === count) continue;
    for (let index = Math.floor(before / TILE_WIDTH); index * TILE_WIDTH < count; index++) {
      const width = Math.min(TILE_WIDTH, count - index * TILE_WIDTH);
      out.push({ level, index, width });
      if (level === 0) out.push({ level: 'entries', index, width });
    }
  }
  return out;
}
