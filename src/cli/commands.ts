import type { Command } from 'commander';
import { register as oidc } from './oidc.js';

/**
 * Every command group registers itself here; each lives in its own file
 * (src/cli/<group>.ts) exporting `register(program)`.
 */
type Register = (program: Command) => void;

const groups: Register[] = [oidc];

export function registerCommands(program: Command): void {
  for (const register of groups) register(program);
}
