// Machine facts printed beside a log figure, so that it can be read on any VM: fsync latency of
// the data directory's file system, CPU steal over the run (/proc/stat), raw verify (measure.ts),
// the clock source, the cost of a thread hand-off, whether the native addon is built, and where
// the server's CPU went by thread.
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { percentile, round } from './measure.js';

/** Latency of a 4 KiB write + fsync in `dir`, `count` times (what every durable commit waits for). */
export function fsyncLatencyMs(dir: string, count = 200): { p50: number; p99: number; max: number } {
  const file = join(dir, 'fsync-probe');
  const fd = openSync(file, 'w');
  const page = Buffer.alloc(4096, 7);
  const ms: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      writeSync(fd, page, 0, page.length, (i % 16) * 4096);
      fsyncSync(fd);
      ms.push(performance.now() - t0);
    }
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
  ms.sort((a, b) => a - b);
  return { p50: round(percentile(ms, 50)), p99: round(percentile(ms, 99)), max: round(ms[ms.length - 1]!) };
}

interface CpuTicks {
  busy: number;
  steal: number;
  total: number;
}

/** The machine's aggregate CPU ticks (Linux /proc/stat); undefined elsewhere. */
export function cpuTicks(): CpuTicks | undefined {
  try {
    const line = readFileSync('/proc/stat', 'latin1').split('\n')[0]!;
    // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user)
    const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    return { busy: total - f[3]! - f[4]!, steal: f[7]!, total };
  } catch {
    return undefined;
  }
}

/** Steal and busy time between two readings, in % of all the machine's CPU time. */
export function cpuShare(
  a: CpuTicks | undefined,
  b: CpuTicks | undefined,
): { stealPercent: number; busyPercent: number } | null {
  if (!a || !b || b.total <= a.total) return null;
  const d = b.total - a.total;
  return {
    stealPercent: round(((b.steal - a.steal) * 100) / d),
    busyPercent: round(((b.busy - a.busy) * 100) / d),
  };
}

/** The file system type of `dir` (tmpfs would make every fsync free and the durability figure moot). */
export function fileSystemOf(dir: string): string | null {
  try {
    return execFileSync('stat', ['-f', '-c', '%T', dir], { encoding: 'latin1' }).trim();
  } catch {
    return null;
  }
}

/** The kernel's clock source: anything but tsc / kvm-clock makes every clock read a system call. */
export function clockSource(): string | null {
  try {
    return readFileSync('/sys/devices/system/clocksource/clocksource0/current_clocksource', 'latin1').trim();
  } catch {
    return null;
  }
}

/** Whether the server will verify and sign through the native addon (else the pure-JS path, ~10× the CPU). */
export function nativeAddon(root: string): boolean {
  return process.env.SIGIL_NATIVE !== '0' && existsSync(join(root, 'native/build/Release/sigil_native.node'));
}

/**
 * The cost of one thread hand-off as the log pays it (a message to a worker thread and its
 * answer, each waking the other thread): wall µs and CPU µs (both threads) per round trip, with
 * the worker asleep between messages. On some VMs a wake-up costs far more than on bare metal.
 */
export async function threadRoundTrip(count = 2000): Promise<{ wallUs: number; cpuUs: number }> {
  const w = new Worker(
    "require('node:worker_threads').parentPort.on('message', (m) => require('node:worker_threads').parentPort.postMessage(m));",
    { eval: true },
  );
  const once = (): Promise<void> =>
    new Promise((r) => {
      w.once('message', () => r());
      w.postMessage(1);
    });
  try {
    for (let i = 0; i < 200; i++) await once();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < count; i++) await once();
    const wallUs = ((performance.now() - t0) * 1000) / count;
    const cpu = process.cpuUsage(cpu0);
    return { wallUs: round(wallUs), cpuUs: round((cpu.user + cpu.system) / count) };
  } finally {
    await w.terminate();
  }
}

/** CPU ticks (utime + stime) per thread of process `pid` (Linux /proc); the main thread's tid is `pid`. */
export function threadTicks(pid: number | undefined): Map<number, number> | undefined {
  if (pid === undefined) return undefined;
  try {
    const out = new Map<number, number>();
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1')
          .replace(/^.*\) /, '')
          .split(' ');
        out.set(Number(tid), Number(f[11]) + Number(f[12]));
      } catch {
        // the thread ended
      }
    }
    return out;
  } catch {
    return undefined;
  }
}

/**
 * Server CPU per entry by thread between two readings (ms): the main thread, and the others
 * largest first (worker threads — two verifiers, the SQLite store — then V8's GC helpers).
 */
export function cpuByThread(
  pid: number | undefined,
  a: Map<number, number> | undefined,
  b: Map<number, number> | undefined,
  entries: number,
): { mainMs: number; othersMs: number[] } | null {
  if (pid === undefined || !a || !b || entries <= 0) return null;
  // Ticks are 10 ms (USER_HZ = 100); µs precision needs entries ≫ 100 per tick, as a run gives.
  const perEntry = (ticks: number): number => Math.round((ticks * 10_000) / entries) / 1000;
  const others: number[] = [];
  for (const [tid, t] of b) if (tid !== pid) others.push(t - (a.get(tid) ?? 0));
  return {
    mainMs: perEntry((b.get(pid) ?? 0) - (a.get(pid) ?? 0)),
    othersMs: others
      .filter((t) => t > 0)
      .sort((x, y) => y - x)
      .map(perEntry),
  };
}
