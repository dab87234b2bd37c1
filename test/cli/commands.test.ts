import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { COMMANDS } from '../../src/cli/commands.js';
import { buildProgram } from '../../src/cli/main.js';
import { runSigilInProcess } from '../e2e/stack.js';

const sigil = (...args: string[]) =>
  spawnSync(process.execPath, ['bin/sigil.js', ...args], { encoding: 'utf8', timeout: 60_000 });

test('every command in the lazy table is registered by the module it names, and no module adds one the table lacks', async () => {
  const all = new Set<string>();
  for (const [name, load] of Object.entries(COMMANDS)) {
    const program = new Command();
    (await load()).register(program);
    const names = program.commands.map((c) => c.name());
    assert.ok(names.includes(name), `${name}: its module registers ${names.join(', ')}`);
    for (const n of names) all.add(n);
  }
  assert.deepEqual([...all].sort(), Object.keys(COMMANDS).sort());
});

test('a command line registers only the module of its command; --version registers none', async () => {
  assert.deepEqual((await buildProgram(['verify-blob', '--help'])).commands.map((c) => c.name()).sort(), [
    'sign-blob',
    'verify-blob',
  ]);
  assert.equal((await buildProgram(['--version'])).commands.length, 0);
  assert.equal((await buildProgram([])).commands.length, Object.keys(COMMANDS).length);
});

test('the built CLI prints the package version', () => {
  const r = sigil('--version');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), JSON.parse(readFileSync('package.json', 'utf8')).version);
});

test('an unknown command or flag: one line naming the closest match, exit 2', () => {
  const cmd = sigil('verfy-blob', 'x');
  assert.equal(cmd.status, 2);
  assert.equal(cmd.stderr, "sigil: error: unknown command 'verfy-blob' (did you mean verify-blob?)\n");
  const sub = sigil('log', 'serv');
  assert.equal(sub.status, 2);
  assert.equal(sub.stderr, "sigil: error: unknown command 'serv' (did you mean serve?)\n");
  const flag = sigil('verify-blob', '--bundle', 'b.json', '--certificat-identity', 'me', 'f');
  assert.equal(flag.status, 2);
  assert.equal(
    flag.stderr,
    "sigil: error: unknown option '--certificat-identity' (did you mean --certificate-identity?)\n",
  );
  assert.equal(flag.stdout, '');
});

test('--help works for every command and subcommand (exit 0, usage on stdout)', async () => {
  const paths: string[][] = [];
  const walk = (c: Command, path: string[]): void => {
    for (const sub of c.commands) {
      paths.push([...path, sub.name()]);
      walk(sub, [...path, sub.name()]);
    }
  };
  walk(await buildProgram([]), []);
  assert.ok(paths.length > Object.keys(COMMANDS).length, 'subcommands found');
  for (const p of paths) {
    const r = await runSigilInProcess([...p, '--help']);
    assert.equal(r.code, 0, `${p.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^Usage: sigil ${p.join(' ')} `), p.join(' '));
  }
});

test('an unknown flag on every command and command group: one line naming the closest flag, exit 2, nothing on stdout', async () => {
  const leaves: { path: string[]; command: Command }[] = [];
  const walk = (c: Command, path: string[]): void => {
    for (const sub of c.commands) {
      leaves.push({ path: [...path, sub.name()], command: sub }); // groups (sigil log …) too
      walk(sub, [...path, sub.name()]);
    }
  };
  walk(await buildProgram([]), []);
  assert.ok(leaves.length >= Object.keys(COMMANDS).length, `${leaves.length} commands`);
  for (const { path, command } of leaves) {
    const name = path.join(' ');
    const longs = command.options.filter((o) => o.long && o.long.length > 6);
    const option = longs.find((o) => !o.mandatory) ?? longs[0];
    // Required options given: commander reports a missing one before an unknown one.
    const required = command.options
      .filter((o) => o.mandatory)
      .flatMap((o) => [o.long!, o.argChoices?.[0] ?? 'x']);
    const wrong = option ? `${option.long!.slice(0, -1)}` : '--no-such-flag';
    const r = await runSigilInProcess([...path, ...required, wrong]);
    assert.equal(r.code, 2, `${name} ${wrong}: exit ${r.code} ${r.stderr}`);
    assert.equal(r.stdout, '', name);
    const hint = option ? ` (did you mean ${option.long}?)` : '';
    assert.equal(r.stderr, `sigil: error: unknown option '${wrong}'${hint}\n`, name);
  }
});
