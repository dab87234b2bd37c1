import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CliError } from './output.js';

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
  const read = (file: string, flag: string): string => {
    try {
      return readFileSync(file, 'utf8');
    } catch (e) {
      throw new CliError(`cannot read ${flag} ${file}: ${(e as Error).message}`);
    }
  };
  return { cert: read(o.tlsCert, '--tls-cert'), key: read(o.tlsKey, '--tls-key') };
}
