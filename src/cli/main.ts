import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { cliIo, withCliIo, type CliIo } from './io.js';
import { reportError } from './output.js';
import { registerCommands } from './commands.js';

const VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

/** Commander puts "(Did you mean x?)" on a second line; sigil's errors are one line. */
const oneLineSuggestion = (s: string): string =>
  s.replace(/\n\(Did you mean (.+)\?\)/, ' (did you mean $1?)');

/** The program with the command `argv` names registered (all of them when it names none we know). */
export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const program = new Command('sigil')
    .description('Self-hosted keyless signing: CA, transparency log, signing CLI and admission webhook')
    .version(VERSION)
    .showHelpAfterError(false)
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => cliIo().stdout.write(s),
      writeErr: (s) => cliIo().stderr.write(s.startsWith('error:') ? `sigil: ${oneLineSuggestion(s)}` : s),
    });
  const first = argv[0];
  if (first === '-V' || first === '--version') return program;
  await registerCommands(program, first !== undefined && !first.startsWith('-') ? first : undefined);
  return program;
}

/**
 * Exit codes: 0 ok, 1 the command failed, 2 bad usage (unknown command or flag, missing argument).
 * `io` is the command's world (environment, stdout, stderr); by default the process's.
 */
export async function main(argv: string[], io: Partial<CliIo> = {}): Promise<number> {
  return withCliIo(io, async () => {
    try {
      await (await buildProgram(argv)).parseAsync(argv, { from: 'user' });
      return process.exitCode === undefined ? 0 : Number(process.exitCode);
    } catch (e) {
      if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
      return reportError(e);
    }
  });
}

const isEntry = process.argv[1] !== undefined && /[\\/]src[\\/]cli[\\/]main\.ts$/.test(process.argv[1]);
if (isEntry) {
  main(process.argv.slice(2)).then(
    (code) => {
      if (code !== 0) process.exitCode = code;
    },
    (e: unknown) => {
      process.exitCode = reportError(e);
    },
  );
}
