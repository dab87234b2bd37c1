import type { Command } from 'commander';
import { isSigilError } from '../errors/index.js';
import { readAttestations } from '../oci/cosign.js';
import { DEFAULT_PLATFORM, parsePlatform, readImageSignatures, type Platform } from '../oci/signatures.js';
// Modules of src/sign/ by name, not its index (start-up: see src/cli/commands.ts).
import { bundleVerifyOutput, verifyBundleAttestations, verifyImageSignatures } from '../sign/image-verify.js';
import { checkLines, cosignVerifyOutput } from '../sign/output.js';
import { verifyImageAttestations, type VerifiedAttestation } from '../oci/verify-attestations.js';
import type { VerifiedImageBundle } from '../oci/verify-bundles.js';
import { loadPublicKeyFile } from '../sign/keyfile.js';
import { predicateTypeOf } from '../sign/statement.js';
import { stackDefaults } from '../sign/stack.js';
import {
  compilePolicy,
  createTrustMaterial,
  loadTimestampSupport,
  type IdentityPolicy,
  type TrustMaterial,
  type VerificationPolicy,
  type VerifyOptions,
} from '../verify/index.js';
import { pemBlocks } from '../crypto/index.js';
import { parseCertificate, type ParsedCertificate } from '../x509/parse.js';
import type { TimestampAuthority } from '../timestamp/index.js';
import { MAX_TRUSTED_ROOT_BYTES, readTextFlag, readTrustedRootFile } from './flags.js';
import { CliError, printJson } from './output.js';
import { attestationVerificationJson, imageVerificationJson } from './verify-json.js';
import { cliIo } from './io.js';
import {
  parseAnnotations,
  parseImage,
  registryClient,
  withRegistryFlags,
  type RegistryFlags,
} from './sign.js';

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
  const path = f.trustedRoot ?? stackDefaults(cliIo().env, f.dataDir).trustedRoot;
  if (path === undefined) {
    throw new CliError(
      'no trusted root: pass --trusted-root FILE',
      'start the stack with `sigil up` (it writes .sigil/trusted_root.json) or set SIGIL_TRUSTED_ROOT',
    );
  }
  const text = readTrustedRootFile(path);
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
    const text = readTextFlag(path, 'timestamp certificate chain', MAX_TRUSTED_ROOT_BYTES);
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

/** Flags of `verify` / `verify-attestation` that pick what is read from the registry. */
interface ImageReadFlags {
  platform?: string;
  annotations?: string[];
}

function withImageReadFlags(c: Command): Command {
  return c.option(
    '--platform <os/arch[/variant]>',
    `for a multi-arch index, also accept signatures on this platform's manifest (default ${DEFAULT_PLATFORM})`,
    DEFAULT_PLATFORM,
  );
}

function platformOf(f: ImageReadFlags): Platform {
  try {
    return parsePlatform(f.platform ?? DEFAULT_PLATFORM);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
}

/** The first error that is not "none found", else the none-found one. */
function firstReal(errors: unknown[]): unknown {
  return errors.find((e) => !isSigilError(e, 'NO_SIGNATURES')) ?? errors[0];
}

export function register(program: Command): void {
  withImageReadFlags(
    withRegistryFlags(
      withVerifyFlags(
        program
          .command('verify')
          .description(
            'verify the signatures of a container image (cosign v3 bundle referrers and the legacy .sig layout) against an identity policy',
          )
          .argument('<image>', 'REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]')
          .option(
            '-a, --annotations <key=value>',
            'require these key=value pairs in the signed claims (repeatable)',
            (v: string, acc: string[]) => [...acc, v],
            [],
          )
          .option('--json', "print one JSON document (docs/CLI-JSON.md) instead of cosign's claim list"),
      ),
    ),
  ).action(async (image: string, f: VerifyImageFlags) => {
    const ref = parseImage(image);
    const policy = policyFromFlags(f);
    const options = verifyOptions(f);
    const annotations = parseAnnotations(f.annotations ?? []);
    const platform = platformOf(f);
    const trust = loadTrust(f);
    const client = registryClient(ref, f);
    const digest = ref.digest ?? (await client.resolveDigest(ref));
    const pinned = ref.withDigest(digest);
    const sigs = await readImageSignatures(client, pinned, { platform });
    await loadTimestampSupport();
    const verified = verifyImageSignatures(trust, digest, sigs, policy, options, annotations);
    cliIo().stderr.write(
      checkLines(ref.toString(), [
        ...verified.bundles.map((v) => v.result),
        ...verified.legacy.map((v) => v.result),
      ]),
    );
    if (f.json)
      return printJson(imageVerificationJson(ref.toString(), digest, verified.bundles, verified.legacy));
    const docker = pinned.dockerReference();
    const lines = [
      ...verified.bundles.map((v) => bundleVerifyOutput(v, docker)),
      ...cosignVerifyOutput(verified.legacy),
    ];
    cliIo().stdout.write(`${JSON.stringify(lines)}\n`);
  });

  withImageReadFlags(
    withRegistryFlags(
      withVerifyFlags(
        program
          .command('verify-attestation')
          .description(
            'verify the in-toto attestations of a container image (cosign v3 bundle referrers and the legacy .att layout)',
          )
          .argument('<image>', 'REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]')
          .option('--type <type>', 'only accept this predicate type (slsaprovenance, custom, … or a URI)')
          .option('--json', 'print one JSON document (docs/CLI-JSON.md) instead of the envelopes'),
      ),
    ),
  ).action(async (image: string, f: VerifyImageFlags & { type?: string }) => {
    const ref = parseImage(image);
    const policy = policyFromFlags(f);
    const options = verifyOptions(f);
    const platform = platformOf(f);
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
    const pinned = ref.withDigest(digest);
    const [sigs, layers] = await Promise.all([
      readImageSignatures(client, pinned, { platform, legacy: false }),
      readAttestations(client, pinned),
    ]);
    await loadTimestampSupport();
    const errors: unknown[] = [];
    let bundles: VerifiedImageBundle[] = [];
    let legacy: VerifiedAttestation[] = [];
    try {
      bundles = verifyBundleAttestations(trust, digest, sigs, policy, options, predicateType);
    } catch (e) {
      errors.push(e);
    }
    try {
      legacy = verifyImageAttestations(trust, digest, layers, policy, {
        ...options,
        ...(predicateType ? { predicateType } : {}),
      });
    } catch (e) {
      errors.push(e);
    }
    if (bundles.length + legacy.length === 0) throw firstReal(errors);
    cliIo().stderr.write(
      checkLines(
        ref.toString(),
        [...bundles.map((v) => v.result), ...legacy.map((v) => v.result)],
        'attestations',
      ),
    );
    if (f.json) return printJson(attestationVerificationJson(ref.toString(), digest, bundles, legacy));
    for (const v of bundles) {
      const content = (v.json as { dsseEnvelope?: unknown }).dsseEnvelope;
      cliIo().stdout.write(`${JSON.stringify(content)}\n`);
    }
    for (const v of legacy) cliIo().stdout.write(`${JSON.stringify(v.envelopeJson)}\n`);
  });
}

type VerifyImageFlags = VerifyFlags & RegistryFlags & ImageReadFlags & { json?: boolean };
