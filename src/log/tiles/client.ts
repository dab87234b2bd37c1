import { SigilError } from '../../errors/index.js';
import {
  EMPTY_ROOT,
  consistencyProof,
  inclusionProof,
  nodeHash,
  type HashSource,
} from '../../merkle/index.js';
import { composingSource } from '../hash-source.js';
import type { NodeId } from '../store/types.js';
import { decodeEntryBundle } from './bundle.js';
import { hashesAtLevel, HASH_SIZE, tilePath, TILE_HEIGHT, TILE_WIDTH, type TileId } from './paths.js';

/** Fetches one tile's bytes (e.g. over HTTP from a tlog-tiles prefix); rejects when absent. */
export type TileFetcher = (path: string) => Promise<Uint8Array>;

/**
 * A verifier-side view of a tiled log at one tree size: it computes inclusion and consistency
 * proofs from tiles alone (tlog-tiles has no proof API). Nodes of Merkle level 8L+r come from
 * the level-L tile: directly when r = 0, else as the root of 2^r adjacent hashes.
 */
export class TileProver {
  private readonly tiles = new Map<string, Buffer>();
  private readonly memo = new Map<string, Buffer>();

  constructor(
    private readonly fetchTile: TileFetcher,
    readonly size: number,
  ) {}

  private widthOf(level: number, index: number): number {
    return Math.min(TILE_WIDTH, hashesAtLevel(this.size, level) - index * TILE_WIDTH);
  }

  private async tile(level: number | 'entries', index: number): Promise<Buffer> {
    const width = this.widthOf(level === 'entries' ? 0 : level, index);
    if (width < 1)
      throw new SigilError('INVALID_INPUT', `tile ${level}/${index} is beyond tree size ${this.size}`);
    const id: TileId = { level, index, width };
    const key = tilePath(id);
    let t = this.tiles.get(key);
    if (!t) {
      t = Buffer.from(await this.fetchTile(key));
      if (level !== 'entries' && t.length !== width * HASH_SIZE) {
        throw new SigilError(
          'INVALID_PROOF',
          `tile ${key} has ${t.length} bytes, expected ${width * HASH_SIZE}`,
        );
      }
      this.tiles.set(key, t);
    }
    return t;
  }

  /** Hash of the complete subtree (merkle level, index) if its tile is loaded; undefined otherwise. */
  private node(level: number, index: number): Buffer | undefined {
    const tl = Math.floor(level / TILE_HEIGHT);
    const r = level % TILE_HEIGHT;
    const first = index * 2 ** r; // first hash at tile level tl
    const t = this.tiles.get(
      tilePath({
        level: tl,
        index: Math.floor(first / TILE_WIDTH),
        width: this.widthOf(tl, Math.floor(first / TILE_WIDTH)),
      }),
    );
    if (!t) return undefined;
    const at = first % TILE_WIDTH;
    let hashes: Buffer[] = [];
    for (let i = 0; i < 2 ** r; i++) hashes.push(t.subarray((at + i) * HASH_SIZE, (at + i + 1) * HASH_SIZE));
    while (hashes.length > 1) {
      const up: Buffer[] = [];
      for (let i = 0; i < hashes.length; i += 2) up.push(nodeHash(hashes[i]!, hashes[i + 1]!));
      hashes = up;
    }
    return hashes[0];
  }

  private async withSource<T>(fn: (src: HashSource) => T): Promise<T> {
    for (let pass = 0; pass < 4; pass++) {
      const missing = new Map<number, NodeId>();
      const out = fn(composingSource((l, i) => this.node(l, i), missing, this.memo));
      if (missing.size === 0) return out;
      const need = new Map<string, [number, number]>();
      for (const { level, index } of missing.values()) {
        const tl = Math.floor(level / TILE_HEIGHT);
        const ti = Math.floor((index * 2 ** (level % TILE_HEIGHT)) / TILE_WIDTH);
        need.set(`${tl}/${ti}`, [tl, ti]);
      }
      await Promise.all([...need.values()].map(([l, i]) => this.tile(l, i)));
    }
    throw new SigilError('INVALID_PROOF', 'tiles did not supply the nodes of the proof');
  }

  async root(): Promise<Buffer> {
    if (this.size === 0) return EMPTY_ROOT;
    return Buffer.from(await this.withSource((src) => src.hashRange(0, this.size)));
  }

  async inclusionProof(index: number): Promise<Buffer[]> {
    if (!(Number.isSafeInteger(index) && index >= 0 && index < this.size)) {
      throw new SigilError('INVALID_INPUT', `index ${index} is not in a tree of size ${this.size}`);
    }
    return (await this.withSource((src) => inclusionProof(src, index, this.size))).map((p) => Buffer.from(p));
  }

  async consistencyProof(first: number): Promise<Buffer[]> {
    if (!(Number.isSafeInteger(first) && first >= 0 && first <= this.size)) {
      throw new SigilError('INVALID_INPUT', `size ${first} is not within ${this.size}`);
    }
    return (await this.withSource((src) => consistencyProof(src, first, this.size))).map((p) =>
      Buffer.from(p),
    );
  }

  /** The leaf hash at `index` (from the level-0 tile). */
  async leafHash(index: number): Promise<Buffer> {
    const t = await this.tile(0, Math.floor(index / TILE_WIDTH));
    return t.subarray((index % TILE_WIDTH) * HASH_SIZE, ((index % TILE_WIDTH) + 1) * HASH_SIZE);
  }

  /** The entry bytes at `index` (from its entry bundle). */
  async entry(index: number): Promise<Buffer> {
    const entries = decodeEntryBundle(await this.tile('entries', Math.floor(index / TILE_WIDTH)));
    const e = entries[index % TILE_WIDTH];
    if (!e) throw new SigilError('INVALID_PROOF', `entry bundle lacks entry ${index}`);
    return e;
  }
}
