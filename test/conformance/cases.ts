import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SHARED_DIR } from '../helpers/env.js';

export const CONFORMANCE_DIR = `${SHARED_DIR}/fixtures/sigstore-conformance/`;
export const BUNDLE_VERIFY_DIR = `${CONFORMANCE_DIR}bundle-verify/`;
/** What cases without their own trusted_root.json verify against (the suite's clients use production). */
export const PRODUCTION_ROOT = `${CONFORMANCE_DIR}trusted-roots/production.json`;

// The suite's defaults (its test/client.py).
const DEFAULT_IDENTITY =
  'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
const DEFAULT_ISSUER = 'https://token.actions.githubusercontent.com';

export interface ConformanceCase {
  name: string;
  dir: string;
  shouldFail: boolean;
  bundle: string;
  trustedRoot: string;
  artifact: string;
  key?: string;
  identity: string;
  issuer: string;
}

export function conformanceCases(dir = BUNDLE_VERIFY_DIR): ConformanceCase[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort()
    .map((name) => {
      const p = join(dir, name);
      const opt = (f: string): string | undefined => (existsSync(join(p, f)) ? join(p, f) : undefined);
      const text = (f: string): string | undefined => {
        const path = opt(f);
        return path === undefined ? undefined : readFileSync(path, 'utf8').trim();
      };
      const key = opt('key.pub');
      return {
        name,
        dir: p,
        shouldFail: name.endsWith('fail'),
        bundle: join(p, 'bundle.sigstore.json'),
        trustedRoot: opt('trusted_root.json') ?? PRODUCTION_ROOT,
        artifact: opt('artifact') ?? join(dir, 'a.txt'),
        ...(key ? { key } : {}),
        identity: text('identity') ?? DEFAULT_IDENTITY,
        issuer: text('issuer') ?? DEFAULT_ISSUER,
      };
    });
}

/** The suite's verify-bundle arguments for a case, with the file or with its sha256: digest. */
export function verifyArgs(c: ConformanceCase, digest: boolean): string[] {
  const args = ['verify-bundle', '--bundle', c.bundle];
  if (c.key) args.push('--key', c.key);
  else args.push('--certificate-identity', c.identity, '--certificate-oidc-issuer', c.issuer);
  args.push('--trusted-root', c.trustedRoot);
  args.push(
    digest ? `sha256:${createHash('sha256').update(readFileSync(c.artifact)).digest('hex')}` : c.artifact,
  );
  return args;
}

/** `sigil verify-blob` of a keyless case, for `artifact` (the file or a sha256: digest). */
export function verifyBlobArgs(c: ConformanceCase, artifact: string, extra: string[] = []): string[] {
  return [
    'verify-blob',
    artifact,
    '--bundle',
    c.bundle,
    '--trusted-root',
    c.trustedRoot,
    '--certificate-identity',
    c.identity,
    '--certificate-oidc-issuer',
    c.issuer,
    ...extra,
  ];
}
