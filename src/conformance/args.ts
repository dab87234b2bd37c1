import { SigilError } from '../errors/index.js';
import { fileOrDigest, type FileOrDigest } from '../cli/file-or-digest.js';

/**
 * The Sigstore conformance suite's client protocol (docs/cli_protocol.md of
 * sigstore/sigstore-conformance): `sign-bundle` and `verify-bundle`, flags always in the
 * documented order, the artifact (or `sha256:` digest) last.
 */
export interface SignArgs {
  command: 'sign-bundle';
  staging: boolean;
  inToto: boolean;
  identityToken: string;
  bundle: string;
  trustedRoot?: string;
  signingConfig?: string;
  file: string;
}

export interface VerifyArgs {
  command: 'verify-bundle';
  staging: boolean;
  bundle: string;
  certificateIdentity?: string;
  certificateOidcIssuer?: string;
  key?: string;
  trustedRoot?: string;
  /** Either a path or, when it looks like one and is not a file, a sha256 digest. */
  input: FileOrDigest;
}

const VALUE_FLAGS: Record<string, string> = {
  '--identity-token': 'identityToken',
  '--bundle': 'bundle',
  '--trusted-root': 'trustedRoot',
  '--signing-config': 'signingConfig',
  '--certificate-identity': 'certificateIdentity',
  '--certificate-oidc-issuer': 'certificateOidcIssuer',
  '--key': 'key',
};
const BOOL_FLAGS: Record<string, string> = { '--staging': 'staging', '--in-toto': 'inToto' };
const MAX_ARG_LENGTH = 64 * 1024;

function usage(message: string): never {
  throw new SigilError('INVALID_INPUT', message);
}

export function parseArgs(argv: readonly string[]): SignArgs | VerifyArgs {
  const [command, ...rest] = argv;
  if (command !== 'sign-bundle' && command !== 'verify-bundle')
    usage('usage: sigil-conformance sign-bundle|verify-bundle [flags] FILE_OR_DIGEST');
  const flags: Record<string, string | boolean> = {};
  const positional: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a.length > MAX_ARG_LENGTH) usage('an argument is too long');
    if (BOOL_FLAGS[a]) flags[BOOL_FLAGS[a]] = true;
    else if (VALUE_FLAGS[a]) {
      const v = rest[++i];
      if (v === undefined) usage(`${a} needs a value`);
      if (flags[VALUE_FLAGS[a]] !== undefined) usage(`${a} given twice`);
      flags[VALUE_FLAGS[a]] = v;
    } else if (a.startsWith('--')) usage(`unknown flag ${a}`);
    else positional.push(a);
  }
  if (positional.length !== 1) usage('exactly one FILE (or sha256:DIGEST) is expected, last');
  const str = (k: string): string | undefined => flags[k] as string | undefined;
  const bundle = str('bundle') ?? usage('--bundle is required');
  const opt = <K extends string>(k: K): Partial<Record<K, string>> =>
    str(k) !== undefined ? ({ [k]: str(k) } as Record<K, string>) : {};
  if (command === 'sign-bundle') {
    return {
      command,
      staging: flags.staging === true,
      inToto: flags.inToto === true,
      identityToken: str('identityToken') ?? usage('--identity-token is required'),
      bundle,
      ...opt('trustedRoot'),
      ...opt('signingConfig'),
      file: positional[0]!,
    };
  }
  const out: VerifyArgs = {
    command,
    staging: flags.staging === true,
    bundle,
    ...opt('certificateIdentity'),
    ...opt('certificateOidcIssuer'),
    ...opt('key'),
    ...opt('trustedRoot'),
    input: fileOrDigest(positional[0]!),
  };
  if (
    out.key === undefined &&
    (out.certificateIdentity === undefined || out.certificateOidcIssuer === undefined)
  )
    usage('verify-bundle needs --key, or --certificate-identity and --certificate-oidc-issuer');
  return out;
}
