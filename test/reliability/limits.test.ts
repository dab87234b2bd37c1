import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ROOT } from './helpers.js';

const UNITS: Record<string, number> = {
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  ms: 1,
  s: 1000,
  min: 60_000,
  h: 3_600_000,
};

/** `4 MiB` → 4194304, `30 s` → 30000, `8192` → 8192. */
function documented(value: string): number {
  const m = /^([0-9][0-9_,]*(?:\.[0-9]+)?)\s*([A-Za-z]+)?$/.exec(value.trim());
  assert.ok(m, `cannot read the documented value ${value}`);
  const n = Number(m[1]!.replace(/[_,]/g, ''));
  if (!m[2]) return n;
  assert.ok(m[2] in UNITS, `unknown unit in ${value}`);
  return n * UNITS[m[2]]!;
}

/** Evaluates a numeric constant expression such as `4 * 1024 * 1024` or `60 * 60 * 1000`. */
function evaluate(expr: string): number {
  const clean = expr.replace(/_/g, '').trim();
  assert.match(clean, /^[0-9*+\s().]+$/, `not a plain numeric expression: ${expr}`);
  return Function(`"use strict"; return (${clean});`)() as number;
}

/** The value of `CONST` or `OBJ.field` in `file`: exported ones by import, the others from the source text. */
async function actual(file: string, name: string): Promise<number> {
  const [head, field] = name.split('.') as [string, string | undefined];
  const mod = (await import(pathToFileURL(join(ROOT, file)).href)) as Record<string, unknown>;
  if (head in mod) {
    const v = field === undefined ? mod[head] : (mod[head] as Record<string, unknown>)[field];
    assert.equal(typeof v, 'number', `${file}:${name} is a number`);
    return v as number;
  }
  const text = readFileSync(join(ROOT, file), 'utf8');
  const m = new RegExp(`(?:^|\\n)(?:export )?const ${head}\\s*=\\s*([^;\\n]+);`).exec(text);
  assert.ok(m && field === undefined, `${file} defines ${name}`);
  return evaluate(m[1]!);
}

test('docs/LIMITS.md agrees with the constants in the code, row by row', async () => {
  const doc = readFileSync(join(ROOT, 'docs/LIMITS.md'), 'utf8');
  const rows = [
    ...doc.matchAll(/^\|[^|\n]+\|\s*`([^`]+)`\s*\|\s*`(src\/[^`:]+):([A-Za-z_][A-Za-z0-9_.]*)`\s*\|/gm),
  ];
  assert.ok(rows.length >= 80, `the table lists the limits (${rows.length} rows read)`);
  const problems: string[] = [];
  for (const [, value, file, name] of rows) {
    const want = documented(value!);
    const got = await actual(file!, name!);
    if (got !== want) problems.push(`${file}:${name} is ${got}, LIMITS.md says ${value}`);
  }
  assert.deepEqual(problems, []);
});

test('the limits the issue names are the documented ones', async () => {
  const chain = await import('../../src/x509/chain.js');
  const manifest = await import('../../src/oci/manifest.js');
  const app = await import('../../src/server/app.js');
  const depth = await import('../../src/server/json-depth.js');
  const oidc = await import('../../src/oidc/verify.js');
  const policy = await import('../../src/admission/policy/types.js');
  assert.equal(chain.MAX_INTERMEDIATES, 10, 'certificate chains: at most 10 intermediates');
  assert.equal(manifest.MAX_SIGNATURES, 100, 'signatures per image: 100');
  assert.equal(app.DEFAULT_BODY_LIMIT, 4 * 1024 * 1024, 'request bodies: 4 MiB by default');
  assert.equal(depth.DEFAULT_MAX_JSON_DEPTH, 64);
  assert.equal(oidc.MAX_TOKEN_BYTES, 32 * 1024);
  assert.equal(policy.POLICY_LIMITS.maxRegexLength, 1024);
});
