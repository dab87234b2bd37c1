import type { Command } from 'commander';

/**
 * Every command group registers itself here; each lives in its own file
 * (src/cli/<group>.ts) exporting `register(program)`.
 */
type Register = (program: Command) => void;

const groups: Register[] = [];

export function registerCommands(program: Command): void {
  for (const register of groups) register(program);
}
