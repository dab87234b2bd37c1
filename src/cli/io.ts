import { AsyncLocalStorage } from 'node:async_hooks';

/** What a stream of the CLI needs: a place to write text. */
export interface CliStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

/** The CLI's world: its environment and output streams, handed in by whoever calls `main`. */
export interface CliIo {
  env: Readonly<Record<string, string | undefined>>;
  stdout: CliStream;
  stderr: CliStream;
}

const world = new AsyncLocalStorage<CliIo>();

const processIo = (): CliIo => ({ env: process.env, stdout: process.stdout, stderr: process.stderr });

/**
 * The world of the running command. Commander hands actions only their flags, so `main` binds the
 * world for the run (an async context, not a global), and two runs in one process do not mix.
 */
export function cliIo(): CliIo {
  return world.getStore() ?? processIo();
}

export function withCliIo<T>(io: Partial<CliIo>, fn: () => Promise<T>): Promise<T> {
  // The process's own world needs no context (cliIo falls back to it). Binding one turns on
  // async_hooks' promise hooks for the rest of the process: `sigil log serve` then paid a hook
  // call (and V8's slower hooked paths) on every promise and callback of every request.
  if (Object.keys(io).length === 0) return fn();
  return world.run({ ...processIo(), ...io }, fn);
}
