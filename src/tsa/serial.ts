import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** Serials reserved per durable write: one fsync per this many timestamps. */
export const SERIAL_BLOCK = 65_536n;
const MAX_FILE_BYTES = 128;

/**
 * Serial numbers that never repeat, across restarts and crashes: a counter with a durable
 * high-water mark. Before handing out serials the allocator writes (write, fsync, rename, fsync
 * of the directory) the end of the block it is about to use; after a restart it starts above
 * the last mark, so at most one block per restart is skipped and none is reused.
 */
export class SerialAllocator {
  private next: bigint;
  private reservedEnd: bigint;

  constructor(private readonly file: string) {
    const mark = readMark(file);
    this.next = mark + 1n;
    this.reservedEnd = mark;
  }

  /** The next serial (positive, strictly increasing). */
  take(): bigint {
    if (this.next > this.reservedEnd) {
      const end = this.reservedEnd + SERIAL_BLOCK;
      writeMark(this.file, end);
      this.reservedEnd = end;
    }
    return this.next++;
  }
}

function readMark(file: string): bigint {
  if (!existsSync(file)) return 0n;
  const text = readFileSync(file, 'utf8');
  const m = text.length <= MAX_FILE_BYTES ? /^(\d{1,40})\n?$/.exec(text) : null;
  if (!m) throw new Error(`${file} does not hold a serial high-water mark; refusing to guess one`);
  return BigInt(m[1]!);
}

function writeMark(file: string, mark: bigint): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, `${mark}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  const dir = openSync(dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
