import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

export const IN_CI = process.env.CI === 'true';

/**
 * Returns true when `name` is on PATH (or an absolute path that exists). Otherwise skips the
 * test with a printed reason locally, and fails it under CI=true, where .ci/run must have
 * installed it.
 */
export function requireBinary(t: TestContext, name: string): boolean {
  const found = name.startsWith('/') ? existsSync(name) : spawnSync('which', [name]).status === 0;
  if (found) return true;
  const reason = `${name} is not installed`;
  if (IN_CI) throw new Error(`${reason}, and CI=true requires it (.ci/run must install it)`);
  process.stderr.write(`skipping: ${reason}\n`);
  t.skip(reason);
  return false;
}

/** Same contract for files under ../shared (data that is not committed to the project). */
export function requireSharedFile(t: TestContext, path: string): boolean {
  if (existsSync(path)) return true;
  const reason = `${path} is absent`;
  if (IN_CI) throw new Error(`${reason}, and CI=true requires it`);
  process.stderr.write(`skipping: ${reason}\n`);
  t.skip(reason);
  return false;
}

/**
 * The project's shared/ folder (data that is not committed): beside the checkout, as CI lays it
 * out, or SIGIL_SHARED_DIR, or the development machine's /work/shared.
 */
export const SHARED_DIR: string =
  [
    process.env.SIGIL_SHARED_DIR,
    fileURLToPath(new URL('../../../shared', import.meta.url)),
    '/work/shared',
  ].find((d): d is string => d !== undefined && existsSync(d)) ??
  fileURLToPath(new URL('../../../shared', import.meta.url));

/** The real public-Sigstore bundles and trusted root (shared/fixtures/public-sigstore/), with a trailing slash. */
export const PUBLIC_SIGSTORE_DIR = `${SHARED_DIR}/fixtures/public-sigstore/`;
