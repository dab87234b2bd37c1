// Machine facts printed beside a log figure, so that it can be read on any VM: fsync latency of
// the data directory's file system, CPU steal over the run (/proc/stat), raw verify (measure.ts).
import { closeSync, fsyncSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
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
