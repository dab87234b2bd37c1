import { mkdir, open, readFile, rename, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseCheckpoint, parseSignedNote } from '../../bundle/signed-note.js';
import { nodeHash } from '../../merkle/index.js';
import type { StoredEntry, TreeHead } from '../types.js';
import { decodeEntryBundle, encodeEntryBundle } from './bundle.js';
import { HASH_SIZE, newTiles, tilePath, TILE_WIDTH, type TileId } from './paths.js';

/** What the tile writer reads from the log. */
export interface TileSource {
  latestTreeHead(): TreeHead;
  getEntries(start: number, count: number): Promise<StoredEntry[]>;
  /** The newest committed entries from memory, when the source holds them (Log.recentEntries). */
  recentEntries?(start: number, count: number): readonly StoredEntry[] | undefined;
}

const READ_CHUNK = 1000;
const ROOT_CACHE_LIMIT = 100_000;

/** Size in the directory's current checkpoint (-1 when there is none or it is not a checkpoint note). */
async function checkpointSizeIn(dir: string): Promise<number> {
  try {
    const text = await readFile(join(dir, 'checkpoint'), 'utf8');
    return parseCheckpoint(parseSignedNote(text).text).size;
  } catch {
    return -1;
  }
}

/** Root of a perfect tree over 2^k hashes. */
function perfectRoot(hashes: Buffer[]): Buffer {
  let level = hashes;
  while (level.length > 1) {
    const up: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) up.push(nodeHash(level[i]!, level[i + 1]!));
    level = up;
  }
  return level[0]!;
}

async function fsyncPath(path: string, flags: string): Promise<void> {
  const fh = await open(path, flags);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * The bytes reach the disk before the name does: a renamed but unsynced file can come back
 * empty after a power loss, and an immutable tile that is wrong stays wrong in every cache.
 */
async function writeAtomic(path: string, data: Buffer | string, syncDir = false): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  if (syncDir) await fsyncPath(dirname(path), 'r');
}

/** A tile file of the right shape (a crash of an older writer could leave one short): else it is rewritten. */
async function intact(t: TileId, path: string): Promise<boolean> {
  try {
    if (t.level !== 'entries') return (await stat(path)).size === t.width * HASH_SIZE;
    return decodeEntryBundle(await readFile(path)).length === t.width;
  } catch {
    return false;
  }
}

/**
 * Writes C2SP tlog-tiles for the log into `dir` (which a web server, CDN or object store can
 * serve as is): hash tiles and entry bundles first, then `checkpoint`, so a client that sees a
 * checkpoint finds every tile it needs. Tiles are immutable: a path, once written, always holds
 * the same bytes (a partial tile is a different path per width); files that exist are skipped,
 * so several writers (one per replica) or a restart only redo missing work.
 */
export class TileWriter {
  private written = 0;
  private readonly roots = new Map<string, Buffer>();
  private running: Promise<number> | undefined;
  private lastRead: { start: number; entries: StoredEntry[] } | undefined;

  constructor(
    private readonly log: TileSource,
    readonly dir: string,
  ) {}

  /** Tree size of the last checkpoint this writer published. */
  get size(): number {
    return this.written;
  }

  /** Brings the directory up to the log's latest tree head; resolves with its size. Calls are serialized. */
  sync(): Promise<number> {
    const run = (this.running ?? Promise.resolve(0)).catch(() => 0).then(() => this.syncOnce());
    this.running = run;
    return run;
  }

  private async syncOnce(): Promise<number> {
    const head = this.log.latestTreeHead();
    if (head.size < this.written) return this.written;
    if (head.size === this.written && this.written > 0) return this.written;
    for (const t of newTiles(this.written === 0 ? 0 : this.written, head.size)) {
      const path = join(this.dir, tilePath(t));
      if (await intact(t, path)) continue;
      await this.writeTile(t, path);
    }
    // Several writers may share a directory (one per replica): never move its checkpoint back.
    if ((await checkpointSizeIn(this.dir)) <= head.size)
      await writeAtomic(join(this.dir, 'checkpoint'), head.signed, true);
    this.written = head.size;
    return head.size;
  }

  private async writeTile(t: TileId, path: string): Promise<void> {
    if (t.level === 'entries' || t.level === 0) {
      const entries = await this.entries(t.index * TILE_WIDTH, t.width);
      const data =
        t.level === 'entries'
          ? encodeEntryBundle(entries.map((e) => e.leaf))
          : Buffer.concat(entries.map((e) => e.leafHash));
      await writeAtomic(path, data);
      return;
    }
    const hashes: Buffer[] = [];
    for (let i = 0; i < t.width; i++)
      hashes.push(await this.fullTileRoot(t.level - 1, t.index * TILE_WIDTH + i));
    await writeAtomic(path, Buffer.concat(hashes));
  }

  /** The level-0 tile and the entry bundle of one range come one after the other: read it once. */
  private async entries(start: number, count: number): Promise<StoredEntry[]> {
    const last = this.lastRead;
    this.lastRead = undefined;
    if (last !== undefined && last.start === start && last.entries.length === count) return last.entries;
    const out = await this.readEntries(start, count);
    this.lastRead = { start, entries: out };
    return out;
  }

  private async readEntries(start: number, count: number): Promise<StoredEntry[]> {
    // Just appended, usually: reading them back from the store cost its thread more than a fifth
    // of its CPU per append (the query, and the copies across threads both ways).
    const recent = this.log.recentEntries?.(start, count);
    if (recent !== undefined) return [...recent];
    const out: StoredEntry[] = [];
    while (out.length < count) {
      const got = await this.log.getEntries(start + out.length, Math.min(READ_CHUNK, count - out.length));
      if (got.length === 0) throw new Error(`log lacks entries from ${start + out.length}`);
      out.push(...got);
    }
    return out;
  }

  /** MTH of the full tile (level, index), read back from its file (cached). */
  private async fullTileRoot(level: number, index: number): Promise<Buffer> {
    const key = `${level}/${index}`;
    const hit = this.roots.get(key);
    if (hit) return hit;
    const data = await readFile(join(this.dir, tilePath({ level, index, width: TILE_WIDTH })));
    if (data.length !== TILE_WIDTH * HASH_SIZE) throw new Error(`tile ${key} has ${data.length} bytes`);
    const hashes: Buffer[] = [];
    for (let i = 0; i < TILE_WIDTH; i++) hashes.push(data.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE));
    const root = perfectRoot(hashes);
    if (this.roots.size >= ROOT_CACHE_LIMIT) this.roots.clear();
    this.roots.set(key, root);
    return root;
  }
}

export interface TilePublisher {
  writer: TileWriter;
  stop(): Promise<void>;
}

/** Runs writer.sync() every `intervalMs` (errors are retried on the next tick). */
export function startTilePublisher(log: TileSource, dir: string, intervalMs = 1000): TilePublisher {
  const writer = new TileWriter(log, dir);
  let stopped = false;
  const tick = (): void => {
    if (stopped) return;
    void writer
      .sync()
      .catch(() => undefined)
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, intervalMs).unref();
      });
  };
  let timer = setTimeout(tick, 0).unref();
  return {
    writer,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await writer.sync().catch(() => undefined);
    },
  };
}
