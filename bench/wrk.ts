// Debian's wrk as a load generator, shared by the benchmarks that drive it with a Lua script.
import { spawn } from 'node:child_process';

export const WRK_BIN = '/usr/bin/wrk';
/** USER_HZ: the unit of the CPU times in /proc/<pid>/stat. */
export const CLOCK_TICKS_PER_SECOND = 100;

/**
 * Runs wrk with `args` (its options, the Lua script, the URL and any script arguments) and
 * resolves with the JSON its script's done() printed on a `WRK_RESULT {…}` line; rejects when
 * wrk fails or prints no such line.
 */
export function runWrkScript<T>(args: readonly string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(WRK_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) => {
      const line = /WRK_RESULT (.*)/.exec(out)?.[1];
      if (code !== 0 || !line) {
        reject(new Error(`wrk exited ${code}: ${out.slice(0, 2000)}`));
        return;
      }
      resolve(JSON.parse(line) as T);
    });
  });
}
