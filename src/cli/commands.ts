import type { Command } from 'commander';

/**
 * Each top-level command → the module (src/cli/<file>.ts) whose `register(program)` adds it.
 * A module is imported only when its command runs, so `sigil --version` or `sigil verify-blob`
 * never loads Fastify, pg, SQLite or the admission engine. Adding a command: one line here
 * (test/cli/commands.test.ts checks that every module registers exactly the names listed for it).
 */
type CommandModule = { register(program: Command): void };

export const COMMANDS: Readonly<Record<string, () => Promise<CommandModule>>> = {
  oidc: () => import('./oidc.js'),
  ca: () => import('./ca.js'),
  'trusted-root': () => import('./trusted-root.js'),
  up: () => import('./up.js'),
  log: () => import('./log.js'),
  sign: () => import('./sign.js'),
  'generate-key-pair': () => import('./keys.js'),
  verify: () => import('./verify.js'),
  'verify-attestation': () => import('./verify.js'),
  'sign-blob': () => import('./blob.js'),
  'verify-blob': () => import('./blob.js'),
  attest: () => import('./attest.js'),
  tree: () => import('./tree.js'),
  triangulate: () => import('./tree.js'),
  admission: () => import('./admission.js'),
  policy: () => import('./admission.js'),
  demo: () => import('./demo.js'),
  monitor: () => import('./monitor.js'),
  tsa: () => import('./tsa.js'),
  'signing-config': () => import('./signing-config.js'),
};

/**
 * Registers the module of `name` when it is a known command, otherwise every module (help, an
 * unknown command's "did you mean", `sigil help <cmd>`). A module is registered once.
 */
export async function registerCommands(program: Command, name?: string): Promise<void> {
  const loaders =
    name !== undefined && Object.hasOwn(COMMANDS, name) ? [COMMANDS[name]!] : Object.values(COMMANDS);
  const seen = new Set<CommandModule>();
  for (const mod of await Promise.all(loaders.map((load) => load()))) {
    if (seen.has(mod)) continue;
    seen.add(mod);
    mod.register(program);
  }
}
