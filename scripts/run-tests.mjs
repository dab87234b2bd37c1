// Builds dist/ (tests that spawn bin/sigil.js run the built CLI, so it must match src/), then finds
// test files (test/**/*.test.ts) and runs them with node:test through tsx.
// Usage: node scripts/run-tests.mjs [path-prefix ...]
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const prefixes = process.argv.slice(2);
const files = walk('test', [])
  .filter((f) => prefixes.length === 0 || prefixes.some((p) => f.startsWith(p)))
  .sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const built = spawnSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
if (built.status !== 0) process.exit(built.status ?? 1);
const concurrency = process.env.SIGIL_TEST_CONCURRENCY ?? '2';
const r = spawnSync(
  process.execPath,
  // --test-force-exit: a file whose tests have all ended exits even if a test left a server open,
  // so one leaked handle cannot hang the whole suite (CI has no per-file timeout).
  [
    '--import',
    'tsx',
    '--test',
    '--test-force-exit',
    `--test-concurrency=${concurrency}`,
    '--test-reporter=spec',
    ...files,
  ],
  { stdio: 'inherit' },
);
process.exit(r.status ?? 1);
