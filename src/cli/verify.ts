import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { isSigilError } from '../errors/index.js';
import { readSignatures, readAttestations } from '../oci/cosign.js';
import {
  checkLines,
  cosignVerifyOutput,
  loadPublicKeyFile,
  predicateTypeOf,
  stackDefaults,
  verifyImageAttestations,
} from '../sign/index.js';
import {
  compilePolicy,
  createTrustMaterial,
  verifyCosignImage,
  type IdentityPolicy,
  type TrustMaterial,
  type VerificationPolicy,
  type VerifyOptions,
} from '../verify/index.js';
import { pemBlocks } from '../crypto/index.js';
import { parseCertificate, type ParsedCertificate } from '../x509/parse.js';
import type { TimestampAuthority } from '../timestamp/index.js';
import { CliError } from './output.js';
import { parseImage, registryClient, withRegistryFlags, type RegistryFlags } from './sign.js';

export const MAX_TRUSTED_ROOT_BYTES = 4 * 1024 * 1024;

/** Identity and trust flags shared by verify, verify-attestation and verify-blob. */
export interface VerifyFlags {
  certificateIdentity?: string;
  certificateIdentityRegexp?: string;
  certificateOidcIssuer?: string;
  certificateOidcIssuerRegexp?: string;
  certificateGithubWorkflowTrigger?: string;
  certificateGithubWorkflowSha?: string;
  certificateGithubWorkflowName?: string;
  certificateGithubWorkflowRepository?: string;
  certificateGithubWorkflowRef?: string;
  insecureIgnoreIdentityUnsafe?: boolean;
  insecureIgnoreSct?: boolean;
  insecureIgnoreTlog?: boolean;
  useSignedTimestamps?: boolean;
  timestampCertificateChain?: string;
  trustedRoot?: string;
  key?: string;
  dataDir?: string;
}

export function withVerifyFlags(c: Command): Command {
  return c
    .option('--certificate-identity <id>', 'exact identity (any SAN of the certificate: URI, email …)')
    .option(
      '--certificate-identity-regexp <re>',
      'identity as a regular expression (unanchored unless you anchor it)',
    )
    .option('--certificate-oidc-issuer <url>', 'exact OIDC issuer of the certificate')
    .option('--certificate-oidc-issuer-regexp <re>', 'OIDC issuer as a regular expression')
    .option('--certificate-github-workflow-trigger <v>', 'exact GitHub workflow trigger (e.g. push)')
    .option('--certificate-github-workflow-sha <v>', 'exact GitHub workflow commit SHA')
    .option('--certificate-github-workflow-name <v>', 'exact GitHub workflow name')
    .option('--certificate-github-workflow-repository <v>', 'exact GitHub repository (org/repo)')
    .option('--certificate-github-workflow-ref <v>', 'exact GitHub ref (e.g. refs/heads/main)')
    .option(
      '--trusted-root <file>',
      'trusted_root.json (default: SIGIL_TRUSTED_ROOT or the one `sigil up` wrote)',
    )
    .option('--key <file>', 'verify with this public key (PEM) instead of certificates')
    .option('--insecure-ignore-identity-unsafe', 'UNSAFE: accept any signer the CA certified, whoever it is')
    .option(
      '--insecure-ignore-sct',
      'UNSAFE: do not require a signed certificate timestamp in the certificate',
    )
    .option('--insecure-ignore-tlog', 'UNSAFE: do not verify transparency log entries')
    .option('--use-signed-timestamps', 'require a verified RFC 3161 timestamp from a timestamp authority')
    .option(
      '--timestamp-certificate-chain <file>',
      'PEM chain (TSA leaf first, root last) to verify RFC 3161 timestamps with, instead of the trusted root',
    )
    .option('--data-dir <dir>', 'data directory of `sigil up` (default: SIGIL_DATA_DIR or ./.sigil)');
}

export function loadTrust(f: VerifyFlags): TrustMaterial {
  const path = f.trustedRoot ?? stackDefaults(process.env, f.dataDir).trustedRoot;
  if (path === undefined) {
    throw new CliError(
      'no trusted root: pass --trusted-root FILE',
      'start the stack with `sigil up` (it writes .sigil/trusted_root.json) or set SIGIL_TRUSTED_ROOT',
    );
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CliError(
      `cannot read trusted root ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  if (text.length > MAX_TRUSTED_ROOT_BYTES) throw new CliError(`trusted root ${path} is too large`);
  let trust: TrustMaterial;
  try {
    trust = createTrustMaterial(text);
  } catch (e) {
    if (isSigilError(e)) throw new CliError(`invalid trusted root ${path}: ${e.message}`);
    throw e;
  }
  if (f.timestampCertificateChain === undefined) return trust;
  return { ...trust, timestampAuthorities: [timestampChainAuthority(f.timestampCertificateChain)] };
}

/** cosign's --timestamp-certificate-chain: one TSA whose window is its leaf certificate's validity. */
function timestampChainAuthority(path: string): TimestampAuthority {
  let certChain: ParsedCertificate[];
  try {
    const text = readFileSync(path, 'utf8');
    if (text.length > MAX_TRUSTED_ROOT_BYTES)
      throw new CliError(`timestamp certificate chain ${path} is too large`);
    certChain = pemBlocks(text)
      .filter((b) => b.type === 'CERTIFICATE')
      .map((b) => parseCertificate(b.der));
  } catch (e) {
    if (e instanceof CliError) throw e;
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new CliError(`cannot read timestamp certificate chain ${path}: ${why}`);
  }
  if (certChain.length < 2 || certChain.length > 10)
    throw new CliError(`timestamp certificate chain ${path} must hold 2–10 PEM certificates (leaf … root)`);
  const leaf = certChain[0]!;
  return { uri: path, certChain, validFor: { start: leaf.notBefore, end: leaf.notAfter } };
}

/** The identity policy from the flags; one identity and one issuer flag are required in keyless mode. */
export function policyFromFlags(f: VerifyFlags): VerificationPolicy | undefined {
  if (f.key !== undefined) return undefined;
  const hasIdentity = f.certificateIdentity !== undefined || f.certificateIdentityRegexp !== undefined;
  const hasIssuer = f.certificateOidcIssuer !== undefined || f.certificateOidcIssuerRegexp !== undefined;
  if (f.insecureIgnoreIdentityUnsafe && !hasIdentity && !hasIssuer) return { skipIdentityUnsafe: true };
  if (!hasIdentity) {
    throw new CliError(
      '--certificate-identity or --certificate-identity-regexp is required for verification in keyless mode',
      "for example --certificate-identity-regexp '^https://github.com/ORG/REPO/.github/workflows/' (or --insecure-ignore-identity-unsafe)",
    );
  }
  if (!hasIssuer) {
    throw new CliError(
      '--certificate-oidc-issuer or --certificate-oidc-issuer-regexp is required for verification in keyless mode',
      'for example --certificate-oidc-issuer https://token.actions.githubusercontent.com',
    );
  }
  const both = (a: unknown, b: unknown, name: string): void => {
    if (a !== undefined && b !== undefined)
      throw new CliError(`give either --${name} or --${name}-regexp, not both`);
  };
  both(f.certificateIdentity, f.certificateIdentityRegexp, 'certificate-identity');
  both(f.certificateOidcIssuer, f.certificateOidcIssuerRegexp, 'certificate-oidc-issuer');
  const id: IdentityPolicy = {};
  if (f.certificateIdentity !== undefined) id.subject = f.certificateIdentity;
  if (f.certificateIdentityRegexp !== undefined) id.subjectRegExp = f.certificateIdentityRegexp;
  if (f.certificateOidcIssuer !== undefined) id.issuer = f.certificateOidcIssuer;
  if (f.certificateOidcIssuerRegexp !== undefined) id.issuerRegExp = f.certificateOidcIssuerRegexp;
  if (f.certificateGithubWorkflowTrigger !== undefined)
    id.githubWorkflowTrigger = f.certificateGithubWorkflowTrigger;
  if (f.certificateGithubWorkflowSha !== undefined) id.githubWorkflowSha = f.certificateGithubWorkflowSha;
  if (f.certificateGithubWorkflowName !== undefined) id.githubWorkflowName = f.certificateGithubWorkflowName;
  if (f.certificateGithubWorkflowRepository !== undefined)
    id.githubWorkflowRepository = f.certificateGithubWorkflowRepository;
  if (f.certificateGithubWorkflowRef !== undefined) id.githubWorkflowRef = f.certificateGithubWorkflowRef;
  const policy: VerificationPolicy = { identities: [id] };
  try {
    compilePolicy(policy);
  } catch (e) {
    if (isSigilError(e)) throw new CliError(e.message);
    throw e;
  }
  return policy;
}

export function verifyOptions(f: VerifyFlags): VerifyOptions {
  const out: VerifyOptions = {};
  if (f.key !== undefined) {
    try {
      out.publicKey = loadPublicKeyFile(f.key);
    } catch (e) {
      if (isSigilError(e)) throw new CliError(e.message);
      throw e;
    }
  }
  if (f.insecureIgnoreSct) out.ctlogThreshold = 0;
  if (f.insecureIgnoreTlog) out.tlogThreshold = 0;
  if (f.useSignedTimestamps) out.tsaThreshold = 1;
  return out;
}

export function register(program: Command): void {
  withRegistryFlags(
    withVerifyFlags(
      program
        .command('verify')
        .description('verify the signatures of a container image (cosign layout) against an identity policy')
        .argument('<image>', 'REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]'),
    ),
  ).action(async (image: string, f: VerifyFlags & RegistryFlags) => {
    const ref = parseImage(image);
    const policy = policyFromFlags(f);
    const options = verifyOptions(f);
    const trust = loadTrust(f);
    const client = registryClient(ref, f);
    const digest = ref.digest ?? (await client.resolveDigest(ref));
    const pinned = ref.withDigest(digest);
    const layers = await readSignatures(client, pinned);
    const verified = verifyCosignImage(
      trust,
      digest,
      layers.map((l) => ({ payload: l.payload, annotations: l.annotations })),
      policy,
      options,
    );
    process.stderr.write(
      checkLines(
        ref.toString(),
        verified.map((v) => v.result),
      ),
    );
    process.stdout.write(`${JSON.stringify(cosignVerifyOutput(verified))}\n`);
  });

  withRegistryFlags(
    withVerifyFlags(
      program
        .command('verify-attestation')
        .description('verify the in-toto attestations of a container image (cosign `.att` layout)')
        .argument('<image>', 'REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]')
        .option('--type <type>', 'only accept this predicate type (slsaprovenance, custom, … or a URI)'),
    ),
  ).action(async (image: string, f: VerifyFlags & RegistryFlags & { type?: string }) => {
    const ref = parseImage(image);
    const policy = policyFromFlags(f);
    const options = verifyOptions(f);
    let predicateType: string | undefined;
    if (f.type !== undefined) {
      try {
        predicateType = predicateTypeOf(f.type);
      } catch (e) {
        throw new CliError((e as Error).message);
      }
    }
    const trust = loadTrust(f);
    const client = registryClient(ref, f);
    const digest = ref.digest ?? (await client.resolveDigest(ref));
    const layers = await readAttestations(client, ref.withDigest(digest));
    const verified = verifyImageAttestations(trust, digest, layers, policy, {
      ...options,
      ...(predicateType ? { predicateType } : {}),
    });
    process.stderr.write(
      checkLines(
        ref.toString(),
        verified.map((v) => v.result),
        'attestations',
      ),
    );
    for (const v of verified) process.stdout.write(`${JSON.stringify(v.envelopeJson)}\n`);
  });
}
