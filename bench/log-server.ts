// `sigil log serve` in its own process for the log benchmarks (the current sources through tsx).
import { spawn, type ChildProcess } from 'node:child_process';

export const ROOT = new URL('../', import.meta.url).pathname;

/** Starts `sigil log serve --port 0 <args>` (of the sources at `root`) and resolves with its process and URL once it listens. */
export async function startLogServer(
  args: readonly string[],
  root = ROOT,
): Promise<{ proc: ChildProcess; url: string }> {
  // BENCH_LOG_ENTRY=bin: `node bin/sigil.js` of `root`, as a user runs it (the built dist/ today;
  // before the build landed, that bin ran src/ through tsx): bench/paired-build.sh compares the two.
  const entry =
    process.env.BENCH_LOG_ENTRY === 'bin' ? ['bin/sigil.js'] : ['--import', 'tsx', 'src/cli/main.ts'];
  const argv = [...entry, 'log', 'serve', '--port', '0', ...args];
  const proc = spawn(process.execPath, argv, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SIGIL_LOG_LEVEL: 'error' },
  });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /sigil log listening on (http:\/\/\S+)\n/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.once('exit', (code) => reject(new Error(`log server exited (${code}): ${err}`)));
  });
  return { proc, url };
}

/** SIGTERM and wait for the exit. */
export async function stopLogServer(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await exited;
}
