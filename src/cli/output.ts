import { SigilError } from '../errors/index.js';
import { cliIo } from './io.js';

/** A failure the CLI reports as `sigil: error: …` (+ `sigil: hint: …`) with a non-zero exit. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export function reportError(e: unknown): number {
  const oneLine = (s: string): string => s.replace(/\s*\n\s*/g, ' ').trim();
  const { stderr } = cliIo();
  if (e instanceof CliError) {
    stderr.write(`sigil: error: ${oneLine(e.message)}\n`);
    if (e.hint) stderr.write(`sigil: hint: ${oneLine(e.hint)}\n`);
    return e.exitCode;
  }
  if (e instanceof SigilError) {
    stderr.write(`sigil: error: ${oneLine(e.message)} (${e.code})\n`);
    return 1;
  }
  const msg = e instanceof Error ? e.message : String(e);
  stderr.write(`sigil: error: ${oneLine(msg)}\n`);
  return 1;
}

export function printJson(value: unknown): void {
  cliIo().stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
