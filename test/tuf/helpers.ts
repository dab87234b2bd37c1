import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { parsePolicyText } from '../../src/admission/policy/index.js';
import { isSigilError } from '../../src/errors/index.js';
import { createTrustFilesServer } from '../../src/signing-config/server.js';
import { ivpHead } from '../admission/ivp/testbed.js';

/** A temporary directory, removed after the test. */
export function tufTempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-tuf-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A mirror serving `files()` (read on every request) at `<url>/tuf/`, closed after the test; its URL. */
export async function serveTuf(t: TestContext, files: () => ReadonlyMap<string, Buffer>): Promise<string> {
  const s = await createTrustFilesServer({ files: {}, tuf: { files }, port: 0, logLevel: 'silent' });
  t.after(() => s.close());
  return `${s.url}/tuf`;
}

/** The targets of a repository serving `trusted` as its trusted_root.json. */
export const trustedRootTarget = (trusted: unknown): Record<string, Buffer> => ({
  'trusted_root.json': Buffer.from(JSON.stringify(trusted)),
});

/**
 * An ImageValidatingPolicy `name` on pods with one keyless attestor `a` whose `tuf` block holds
 * `rootLines` (YAML under `root:`, indented 12), the mirror if given, and `validations` if asked.
 */
export function tufPolicy(
  name: string,
  rootLines: string,
  opts: { mirror?: string; validations: boolean },
): string {
  return `${ivpHead(name)}  matchImageReferences:
    - glob: "ghcr.io/*"
  attestors:
    - name: a
      cosign:
        keyless:
          identities: [{subject: a, issuer: b}]
        tuf:
${opts.mirror ? `          mirror: ${opts.mirror}\n` : ''}          root:
${rootLines}
${opts.validations ? '  validations:\n    - expression: "true"\n' : ''}`;
}

/** Loading `yaml` (without a server trusted root) is refused with a message matching `why`. */
export function refusedPolicy(yaml: string, why: RegExp): void {
  assert.throws(
    () => parsePolicyText(yaml, 'p.yaml', { hasTrustedRoot: false }),
    (e: unknown) => isSigilError(e, 'INVALID_POLICY') && why.test(e.message),
  );
}
