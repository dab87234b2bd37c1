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
    return this.takeRange(1n);
  }

  /** The first of `count` consecutive serials, all durably reserved before this returns. */
  takeRange(count: bigint): bigint {
    const first = this.next;
    const last = first + count - 1n;
    if (last > this.reservedEnd) {
      const end = last + SERIAL_BLOCK;
      writeMark(this.file, end);
      this.reservedEnd = end;
    }
    this.next = last + 1n;
    return first;
  }
}

/** Serials a worker process leases from the primary's allocator, a range at a time. */
export const LEASE_SIZE = 4096n;

/**
 * A worker's serials: ranges leased from the primary (which reserves them durably first), the
 * next one asked for when the current one runs low, so `take()` is almost always synchronous.
 * A range a worker did not use up is skipped when it exits, never handed out again.
 */
export class LeasedSerials {
  private next = 0n;
  private end = 0n;
  private spare: { first: bigint; end: bigint } | undefined;
  private pending: Promise<void> | undefined;

  constructor(private readonly lease: () => Promise<bigint>) {}

  take(): bigint | Promise<bigint> {
    if (this.next >= this.end && this.spare) {
      ({ first: this.next, end: this.end } = this.spare);
      this.spare = undefined;
    }
    if (this.next < this.end) {
      const s = this.next++;
      if (!this.spare && !this.pending && this.end - this.next < LEASE_SIZE / 2n) void this.refill();
      return s;
    }
    return (this.pending ?? this.refill()).then(() => this.take());
  }

  private refill(): Promise<void> {
    this.pending = this.lease().then(
      (first) => {
        this.spare = { first, end: first + LEASE_SIZE };
        this.pending = undefined;
      },
      (e: unknown) => {
        this.pending = undefined;
        throw e;
      },
    );
    // A failed prefetch is retried by the next take(); only a take() that waits sees the error.
    this.pending.catch(() => undefined);
    return this.pending;
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
