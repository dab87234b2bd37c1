// Runs the README's examples (```sh readme-test [exit=N]``` blocks) as written, in order, against a
// started stack, with `sigil` on PATH and the stack's SIGIL_* variables set (what `stack.env` holds).
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startStack, type Stack } from '../../src/demo/stack.js';
import { RegistryClient, parseReference, pushImage, tinyImage } from '../../src/oci/index.js';

interface Block {
  line: number;
  code: string;
  exit: number;
}

/** The runnable blocks of a Markdown text: fenced ```sh readme-test, optionally `exit=N`. */
export function readmeBlocks(markdown: string): Block[] {
  const out: Block[] = [];
  const re = /^```sh readme-test(?: exit=(\d+))?\n([\s\S]*?)^```$/gm;
  for (const m of markdown.matchAll(re)) {
    out.push({ line: markdown.slice(0, m.index).split('\n').length, code: m[2]!, exit: Number(m[1] ?? 0) });
  }
  return out;
}

const README = readFileSync('README.md', 'utf8');
let dir: string;
let stack: Stack;
let env: Record<string, string>;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sigil-readme-'));
  stack = await startStack({ dataDir: join(dir, 'data'), registry: 'auto' });
  const digest = await pushImage(
    new RegistryClient(),
    parseReference(`${stack.registry!.host}/readme/app:v1`),
    tinyImage('readme app'),
  );
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(
    join(bin, 'sigil'),
    `#!/bin/sh\nexec "${process.execPath}" "${resolve('bin/sigil.js')}" "$@"\n`,
  );
  chmodSync(join(bin, 'sigil'), 0o755);
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k, v]) =>
        v !== undefined && !k.startsWith('SIGIL_') && !k.startsWith('ACTIONS_') && k !== 'SIGSTORE_ID_TOKEN',
    ),
  ) as Record<string, string>;
  env = {
    ...clean,
    ...stack.env,
    PATH: `${bin}:${process.env.PATH ?? ''}`,
    IMAGE: `${stack.registry!.host}/readme/app@${digest}`,
  };
  mkdirSync(join(dir, 'work'));
});

after(async () => {
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** bash -eo pipefail -c CODE in the work directory; asynchronous, since this process serves the stack. */
function runBash(code: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    const child = spawn('bash', ['-eo', 'pipefail', '-c', code], {
      cwd: join(dir, 'work'),
      env,
      timeout: 300_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', rej);
    child.on('close', (status) => res({ status, stdout, stderr }));
  });
}

test('the README keeps the two set-up commands as its first lines', () => {
  const lines = README.split('\n');
  assert.equal(lines[0], '# sigil');
  assert.equal(lines[2], '```sh');
  assert.match(lines[3]!, /^npm ci && npm run demo\s+#/);
  assert.match(lines[4]!, /^npm ci && npm test\s+#/);
});

test("the README's examples run as written", async (t) => {
  const blocks = readmeBlocks(README);
  assert.ok(blocks.length >= 4, `found ${blocks.length} readme-test blocks`);
  const outputs: string[] = [];
  for (const b of blocks) {
    await t.test(`README line ${b.line}`, async () => {
      const r = await runBash(b.code);
      const shown = `--- block at README line ${b.line}\n${b.code}--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
      assert.equal(r.status, b.exit, shown);
      if (b.exit !== 0) assert.match(r.stderr, /^sigil: error: /m, shown);
      outputs.push(r.stdout + r.stderr);
    });
  }
  const all = outputs.join('\n');
  // What the examples claim to show, checked on their real output.
  assert.match(all, /tlog entry created with index: \d+/);
  assert.match(all, /[0-9a-f]{80}/, 'log search prints entry IDs');
  assert.match(
    all,
    /OCI referrers \(fallback tag sha256-[0-9a-f]{64}\):\n.*sigstore\.bundle\.v0\.3\+json/,
    'tree shows the attached v3 signature',
  );
  assert.match(all, /subject|identity/i, 'the other-identity verify says why it failed');
});
