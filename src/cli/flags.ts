import { readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { CliError } from './output.js';

/**
 * Flag parsing shared by every command: each command turns its strings into one typed config
 * with these, so a flag is checked once, with one wording, at the edge.
 */

/** The largest trusted_root.json any command reads. */
export const MAX_TRUSTED_ROOT_BYTES = 4 * 1024 * 1024;

/** Commander's accumulator for repeatable flags. */
export function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

/** A decimal integer in [min, max]; anything else (`1e3`, `0x10`, ` 5`) is refused. */
export function intFlag(v: string | undefined, flag: string, min: number, max: number): number {
  const n = Number(v);
  if (v === undefined || !/^[0-9]+$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new CliError(`invalid ${flag} ${JSON.stringify(v)}`, `use an integer from ${min} to ${max}`);
  }
  return n;
}

/** A TCP port to listen on; 0 picks a free one. */
export function parsePort(v: string | undefined): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new CliError(`invalid port ${v}`, 'use a number 0–65535');
  return n;
}

/** An http(s) URL, returned as given. */
export function checkUrl(v: string, flag: string): string {
  let u: URL | undefined;
  try {
    u = new URL(v);
  } catch {
    u = undefined;
  }
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) {
    throw new CliError(
      `${flag} ${JSON.stringify(v)} is not an http(s) URL`,
      'for example http://127.0.0.1:3000',
    );
  }
  return v;
}

const why = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/**
 * A file the user named, its size checked before it is read: `cannot read WHAT PATH: ENOENT`
 * (`what` may be empty where the path says enough).
 */
export function readFileFlag(path: string, what: string, maxBytes: number): Buffer {
  const named = what === '' ? path : `${what} ${path}`;
  let size: number;
  try {
    size = statSync(path).size;
  } catch (e) {
    throw new CliError(`cannot read ${named}: ${why(e)}`);
  }
  if (size > maxBytes) throw new CliError(`${named} is larger than ${maxBytes} bytes`);
  try {
    return readFileSync(path);
  } catch (e) {
    throw new CliError(`cannot read ${named}: ${why(e)}`);
  }
}

/** The same, as UTF-8 text. */
export function readTextFlag(path: string, what: string, maxBytes: number): string {
  return readFileFlag(path, what, maxBytes).toString('utf8');
}

/** The text of a trusted_root.json the user named (bounded). */
export function readTrustedRootFile(path: string): string {
  return readTextFlag(path, 'trusted root', MAX_TRUSTED_ROOT_BYTES);
}

/** `--port`, `--host` and `--data-dir` of a `serve` command. */
export function withListenFlags(
  c: Command,
  o: { port: number; dataDir: string; dataDirHelp: string },
): Command {
  return c
    .option('--port <n>', 'listen port (0 picks a free one)', String(o.port))
    .option('--host <host>', 'listen address', '127.0.0.1')
    .option('--data-dir <dir>', o.dataDirHelp, o.dataDir);
}

/** The largest PEM file (certificate chain, key) a serve command reads. */
const MAX_PEM_FILE_BYTES = 1024 * 1024;

/** Adds `--tls-cert/--tls-key` to a `serve` command. */
export function withTlsFlags(c: Command): Command {
  return c
    .option('--tls-cert <file>', 'PEM serving certificate (chain): serve HTTPS instead of HTTP')
    .option('--tls-key <file>', 'PEM private key of --tls-cert');
}

/** Reads the two files named by `--tls-cert/--tls-key` (both or neither). */
export function readTlsFlags(o: {
  tlsCert?: unknown;
  tlsKey?: unknown;
}): { cert: string; key: string } | undefined {
  if (o.tlsCert === undefined && o.tlsKey === undefined) return undefined;
  if (typeof o.tlsCert !== 'string' || typeof o.tlsKey !== 'string') {
    throw new CliError('--tls-cert and --tls-key go together', 'pass both files, or neither for plain HTTP');
  }
  return {
    cert: readTextFlag(o.tlsCert, '--tls-cert', MAX_PEM_FILE_BYTES),
    key: readTextFlag(o.tlsKey, '--tls-key', MAX_PEM_FILE_BYTES),
  };
}
