// Every `--json` output is one JSON document whose fields are exactly those docs/CLI-JSON.md lists
// for the command (name, type, always/optional): an undocumented field, a missing one or a changed
// type fails here. Runs the real commands against a real stack (CA, log, OIDC) and docker-registry.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { RegistryClient, parseReference, pushImage, tinyImage } from '../../src/oci/index.js';
import { startDockerRegistry } from '../helpers/registry.js';
import { ROOT, runSigilInProcess as sigil, startStack } from '../e2e/stack.js';

interface Field {
  types: string[];
  always: boolean;
}
type Section = Map<string, Field>;

/** `## `sigil …`` and `## Type` sections of docs/CLI-JSON.md → their field tables. */
export function documentedSections(text: string): Map<string, Section> {
  const sections = new Map<string, Section>();
  let current: Section | undefined;
  for (const line of text.split('\n')) {
    const heading = /^## (?:`([^`]+)`|([A-Z]\w+))\s*$/.exec(line);
    if (heading) {
      current = new Map();
      sections.set(heading[1] ?? heading[2]!, current);
      continue;
    }
    const row = /^\| `([^`]+)` \| ([^|]+) \| (always|optional) \|/.exec(line);
    if (row && current)
      current.set(row[1]!, {
        types: row[2]!.split(' or ').map((s) => s.trim().replace(/`/g, '')),
        always: row[3] === 'always',
      });
  }
  return sections;
}

const kindOf = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'object' ? 'object' : typeof v;

const parentOf = (path: string): string => {
  const i = path.lastIndexOf('.');
  return i <= 0 ? '.' : path.slice(0, i);
};
const join2 = (p: string, k: string): string => (p === '.' ? k : `${p}.${k}`);

/** The differences between `value` and the section's field list (empty when they agree). */
export function undocumented(
  value: unknown,
  sections: Map<string, Section>,
  name: string,
  path = '.',
  out: string[] = [],
): string[] {
  const section = sections.get(name);
  if (!section) return (out.push(`no section ${name} in docs/CLI-JSON.md`), out);
  const field = section.get(path);
  const where = `${name} ${path}`;
  if (!field)
    return (out.push(`${where}: not documented (value ${JSON.stringify(value)?.slice(0, 80)})`), out);
  const kind = kindOf(value);
  const named = field.types.find((t) => /^[A-Z]/.test(t) && kind === 'object');
  if (named) return undocumented(value, sections, named, '.', out);
  const ok = field.types.some((t) => t === kind || (t === 'map' && kind === 'object'));
  if (!ok) return (out.push(`${where}: is ${kind}, documented as ${field.types.join(' or ')}`), out);
  if (kind === 'array') {
    for (const v of value as unknown[]) undocumented(v, sections, name, `${path === '.' ? '' : path}[]`, out);
  } else if (kind === 'object' && field.types.includes('map')) {
    for (const v of Object.values(value as object)) undocumented(v, sections, name, join2(path, '*'), out);
  } else if (kind === 'object') {
    const obj = value as Record<string, unknown>;
    for (const [k, v] of Object.entries(obj)) undocumented(v, sections, name, join2(path, k), out);
    for (const [p, f] of section) {
      if (p === '.' || parentOf(p) !== path || p.endsWith('[]') || p.endsWith('.*')) continue;
      const key = p.slice(path === '.' ? 0 : path.length + 1);
      if (f.always && !Object.hasOwn(obj, key)) out.push(`${name} ${p}: documented as always, missing`);
    }
  }
  return out;
}

test('docs/CLI-JSON.md: the checker refuses an undocumented field, a missing one and a changed type', () => {
  const sections = documentedSections(
    '## `x`\n\n| `.` | object | always | m |\n| `a` | number | always | m |\n| `b[]` | string | always | m |\n| `b` | array | optional | m |\n',
  );
  assert.deepEqual(undocumented({ a: 1, b: ['x'] }, sections, 'x'), []);
  assert.deepEqual(undocumented({ a: 1 }, sections, 'x'), []);
  assert.match(undocumented({ a: 1, c: 2 }, sections, 'x').join(), /x c: not documented/);
  assert.match(undocumented({ b: [] }, sections, 'x').join(), /x a: documented as always, missing/);
  assert.match(undocumented({ a: '1' }, sections, 'x').join(), /x a: is string, documented as number/);
  assert.match(undocumented({ a: 1, b: [1] }, sections, 'x').join(), /x b\[\]: is number/);
});

test('every --json output matches its field list in docs/CLI-JSON.md', async (t) => {
  const sections = documentedSections(readFileSync(join(ROOT, 'docs/CLI-JSON.md'), 'utf8'));
  const stack = await startStack();
  const registry = await startDockerRegistry(t);
  const dir = mkdtempSync(join(tmpdir(), 'sigil-json-'));
  t.after(async () => {
    await stack.close(); // every server of the stack (the TSA and the v2 log too); the log may be closed already
    await registry?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const seen = new Set<string>();
  const check = async (command: string, args: string[]): Promise<unknown> => {
    const r = await sigil(args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    let doc: unknown;
    assert.doesNotThrow(() => (doc = JSON.parse(r.stdout)), `${command}: stdout is one JSON document`);
    if (process.env.SIGIL_JSON_DUMP)
      writeFileSync(join(process.env.SIGIL_JSON_DUMP, `${command}.json`), r.stdout);
    assert.deepEqual(undocumented(doc, sections, command), [], command);
    seen.add(command);
    return doc;
  };

  const urls = ['--fulcio-url', stack.ca.url, '--rekor-url', stack.log.url];
  const identity = [
    '--trusted-root',
    stack.trustedRootPath,
    '--certificate-identity-regexp',
    '^https://github.com/',
    '--certificate-oidc-issuer',
    stack.oidc.issuer,
  ];
  const file = join(dir, 'artifact.txt');
  writeFileSync(file, 'the artifact\n');
  const bundle = join(dir, 'artifact.sigstore.json');
  const token = ['--identity-token', await stack.oidc.mint()];
  const signed = await sigil(['sign-blob', '--yes', ...urls, ...token, '--bundle', bundle, file]);
  assert.equal(signed.code, 0, signed.stderr);
  await check('sigil verify-blob --json', ['verify-blob', file, '--bundle', bundle, ...identity, '--json']);

  const log = ['--log-url', stack.log.url, '--json'];
  await check('sigil log info --json', ['log', 'info', ...log]);
  await check('sigil log get --json', ['log', 'get', '--log-index', '0', ...log]);
  const sha = `sha256:${createHash('sha256').update(readFileSync(file)).digest('hex')}`;
  const ids = await check('sigil log search --json', ['log', 'search', '--sha', sha, ...log]);
  assert.equal((ids as string[]).length, 1, 'the search finds the entry');
  await check('sigil log verify --json', ['log', 'verify', '--log-index', '0', ...log]);

  if (registry) {
    const repo = `${registry.host}/org/json-out`;
    const digest = await pushImage(new RegistryClient(), parseReference(`${repo}:v1`), tinyImage('json'));
    const image = `${repo}@${digest}`;
    for (const legacy of [[], ['--legacy-layout']]) {
      const s = await sigil(['sign', ...legacy, '--yes', ...urls, ...token, image]);
      assert.equal(s.code, 0, s.stderr);
      const predicate = join(dir, 'provenance.json');
      writeFileSync(predicate, JSON.stringify({ buildType: 'x', builder: { id: 'y' } }));
      const a = await sigil([
        'attest',
        ...legacy,
        '--yes',
        ...urls,
        ...token,
        '--predicate',
        predicate,
        '--type',
        'slsaprovenance',
        image,
      ]);
      assert.equal(a.code, 0, a.stderr);
    }
    const v = (await check('sigil verify --json', ['verify', ...identity, image, '--json'])) as {
      signatures: { layout: string }[];
    };
    assert.deepEqual(v.signatures.map((s) => s.layout).sort(), ['bundle', 'legacy']);
    await check('sigil verify-attestation --json', ['verify-attestation', ...identity, image, '--json']);
    await check('sigil tree --json', ['tree', image, '--json']);
  }

  await stack.log.close();
  await check('sigil log rotate --json', ['log', 'rotate', '--data-dir', join(stack.dir, 'log'), '--json']);

  // Each documented command ran (a section for a command that has no --json is a stale promise).
  const documented = [...sections.keys()].filter((k) => k.startsWith('sigil '));
  const expected = registry
    ? documented
    : documented.filter((k) => !/verify --|verify-attestation|tree/.test(k));
  assert.deepEqual([...seen].sort(), expected.sort());
});

test('every command with a --json flag has its section in docs/CLI-JSON.md', async () => {
  const { buildProgram } = await import('../../src/cli/main.js');
  const program = await buildProgram();
  const withJson: string[] = [];
  const walk = (c: typeof program, prefix: string): void => {
    for (const sub of c.commands) {
      const name = `${prefix} ${sub.name()}`;
      if (sub.options.some((o) => o.long === '--json')) withJson.push(`${name} --json`);
      walk(sub, name);
    }
  };
  walk(program, 'sigil');
  const sections = documentedSections(readFileSync(join(ROOT, 'docs/CLI-JSON.md'), 'utf8'));
  const documented = [...sections.keys()].filter((k) => k.startsWith('sigil ')).sort();
  assert.deepEqual(withJson.sort(), documented);
});
