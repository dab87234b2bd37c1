import { readFileSync, statSync } from 'node:fs';
import { SigilError } from '../errors/index.js';
import { parseBundle } from '../bundle/index.js';
import { loadPublicKeyFile, stackDefaults } from '../sign/index.js';
import { createTrustMaterial, verifyBundle, type VerificationResult } from '../verify/index.js';
import type { VerifyArgs } from './args.js';

const MAX_FILE_BYTES = 1024 * 1024 * 1024;
const MAX_JSON_BYTES = 32 * 1024 * 1024;

/** Reads a file given on the command line, bounded; a missing file is INVALID_INPUT, not a crash. */
export function readArg(path: string, what: string, max: number): Buffer {
  try {
    if (statSync(path).size > max)
      throw new SigilError('TOO_LARGE', `${what} ${path} is larger than ${max} bytes`);
    return readFileSync(path);
  } catch (e) {
    if (e instanceof SigilError) throw e;
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new SigilError('INVALID_INPUT', `cannot read ${what} ${path}: ${code}`);
  }
}

/** The trusted root: --trusted-root, else SIGIL_TRUSTED_ROOT / the one `sigil up` wrote. */
export function trustedRootPath(flag: string | undefined, staging: boolean): string {
  if (flag !== undefined) return flag;
  const found = stackDefaults(process.env).trustedRoot;
  if (found === undefined) {
    throw new SigilError(
      'INVALID_INPUT',
      `no trusted root: pass --trusted-root or set SIGIL_TRUSTED_ROOT${staging ? ' (sigil has no built-in staging root)' : ''}`,
    );
  }
  return found;
}

/** `verify-bundle`: the library verifier with the suite's identity (or key) and trusted root. */
export function conformanceVerify(args: VerifyArgs): VerificationResult {
  const trust = createTrustMaterial(
    readArg(trustedRootPath(args.trustedRoot, args.staging), 'trusted root', MAX_JSON_BYTES),
  );
  const bundle = parseBundle(readArg(args.bundle, 'bundle', MAX_JSON_BYTES));
  const input =
    args.input.kind === 'file'
      ? { artifact: readArg(args.input.path, 'artifact', MAX_FILE_BYTES) }
      : { artifactDigest: { algorithm: 'SHA2_256' as const, digest: args.input.digest } };
  if (args.key !== undefined) {
    return verifyBundle(trust, bundle, undefined, { ...input, publicKey: loadPublicKeyFile(args.key) });
  }
  const policy = {
    identities: [{ subject: args.certificateIdentity!, issuer: args.certificateOidcIssuer! }],
  };
  return verifyBundle(trust, bundle, policy, input);
}
