import { SigilError } from '../errors/index.js';
import { RAW_VALUE_OIDS, type FulcioExtensionName } from '../x509/oids.js';
import { fulcioValue, sanValues, type ParsedCertificate } from '../x509/parse.js';
import { readOnly, decodeString } from '../x509/der-read.js';
import { compileLinearRegExp } from './linear-regex.js';

/**
 * One acceptable signer. A subject (exact or regexp) and an issuer (exact or regexp) are both
 * required. Regexps follow cosign: unanchored unless the pattern anchors itself (^…$).
 */
export interface IdentityPolicy {
  subject?: string;
  subjectRegExp?: string;
  issuer?: string;
  issuerRegExp?: string;
  /** Exact matches on the GitHub workflow extensions (.2–.6, else their v2 equivalents). */
  githubWorkflowTrigger?: string;
  githubWorkflowSha?: string;
  githubWorkflowName?: string;
  githubWorkflowRepository?: string;
  githubWorkflowRef?: string;
  /** Exact matches on any extension by dotted OID (Fulcio values decoded to text). */
  extensions?: Record<string, string>;
}

/** Verification demands a policy: at least one identity, or the explicit unsafe opt-out. */
export interface VerificationPolicy {
  identities?: IdentityPolicy[];
  skipIdentityUnsafe?: boolean;
}

export const MAX_REGEXP_LENGTH = 1024;
export const MAX_IDENTITIES = 64;
const MAX_MATCH_INPUT = 4096;

interface CompiledIdentity {
  source: IdentityPolicy;
  subject: (values: string[]) => boolean;
  issuer: (value: string | undefined) => boolean;
  checks: [string, (c: ParsedCertificate) => string | undefined, string][];
}

export interface CompiledPolicy {
  readonly skipIdentityUnsafe: boolean;
  readonly identities: readonly CompiledIdentity[];
}

const compiled = new WeakMap<VerificationPolicy, CompiledPolicy>();

function regexp(pattern: string, what: string): RegExp {
  if (pattern.length === 0 || pattern.length > MAX_REGEXP_LENGTH) {
    throw new SigilError('INVALID_POLICY', `${what} must be 1–${MAX_REGEXP_LENGTH} characters`);
  }
  try {
    return compileLinearRegExp(pattern);
  } catch (e) {
    throw new SigilError(
      'INVALID_POLICY',
      `${what} is not a valid regular expression: ${(e as Error).message}`,
      { cause: e },
    );
  }
}

function matcher(
  exact: string | undefined,
  pattern: string | undefined,
  what: string,
): (v: string) => boolean {
  if (exact !== undefined && pattern !== undefined)
    throw new SigilError('INVALID_POLICY', `give either ${what} or ${what}RegExp, not both`);
  if (exact !== undefined) {
    if (exact.length === 0) throw new SigilError('INVALID_POLICY', `${what} is empty`);
    return (v) => v === exact;
  }
  if (pattern === undefined)
    throw new SigilError('POLICY_REQUIRED', `an identity policy needs ${what} or ${what}RegExp`);
  const re = regexp(pattern, `${what}RegExp`);
  return (v) => v.length <= MAX_MATCH_INPUT && re.test(v);
}

/** Extension value as text: Fulcio raw (.1–.6) or DER string (.8+); others as DER string or raw UTF-8. */
export function extensionText(c: ParsedCertificate, oid: string): string | undefined {
  const ext = c.extensions.find((e) => e.oid === oid);
  if (!ext) return undefined;
  if (RAW_VALUE_OIDS.has(oid)) return ext.value.toString('utf8');
  try {
    return oid.startsWith('1.3.6.1.4.1.57264.1.')
      ? fulcioValue(oid, ext.value)
      : decodeString(ext.value, readOnly(ext.value));
  } catch {
    return ext.value.toString('utf8');
  }
}

const fulcio = (name: FulcioExtensionName) => (c: ParsedCertificate) => c.fulcio[name];
const stripGithub = (v: string | undefined): string | undefined =>
  v?.startsWith('https://github.com/') ? v.slice('https://github.com/'.length) : v;

/** GitHub workflow checks: the deprecated raw extension, else its v2 equivalent. */
const WORKFLOW: [keyof IdentityPolicy, string, (c: ParsedCertificate) => string | undefined][] = [
  [
    'githubWorkflowTrigger',
    'GitHub workflow trigger',
    (c) => c.fulcio.githubWorkflowTrigger ?? c.fulcio.buildTrigger,
  ],
  [
    'githubWorkflowSha',
    'GitHub workflow SHA',
    (c) => c.fulcio.githubWorkflowSha ?? c.fulcio.sourceRepositoryDigest,
  ],
  ['githubWorkflowName', 'GitHub workflow name', fulcio('githubWorkflowName')],
  [
    'githubWorkflowRepository',
    'GitHub workflow repository',
    (c) => c.fulcio.githubWorkflowRepository ?? stripGithub(c.fulcio.sourceRepositoryURI),
  ],
  [
    'githubWorkflowRef',
    'GitHub workflow ref',
    (c) => c.fulcio.githubWorkflowRef ?? c.fulcio.sourceRepositoryRef,
  ],
];

function compileIdentity(p: IdentityPolicy): CompiledIdentity {
  const subject = matcher(p.subject, p.subjectRegExp, 'subject');
  const issuer = matcher(p.issuer, p.issuerRegExp, 'issuer');
  const checks: CompiledIdentity['checks'] = [];
  for (const [key, label, get] of WORKFLOW) {
    const want = p[key];
    if (want === undefined) continue;
    if (typeof want !== 'string') throw new SigilError('INVALID_POLICY', `${key} must be a string`);
    checks.push([label, get, want]);
  }
  for (const [oid, want] of Object.entries(p.extensions ?? {})) {
    if (!/^[0-2](\.(0|[1-9][0-9]{0,9})){1,30}$/.test(oid))
      throw new SigilError('INVALID_POLICY', `extension key ${JSON.stringify(oid)} is not a dotted OID`);
    if (typeof want !== 'string')
      throw new SigilError('INVALID_POLICY', `extension ${oid} must map to a string`);
    checks.push([`extension ${oid}`, (c) => extensionText(c, oid), want]);
  }
  return {
    source: p,
    subject: (values) => values.some(subject),
    issuer: (v) => v !== undefined && issuer(v),
    checks,
  };
}

/** Validates and compiles a policy (regexps compiled once; cached per policy object). */
export function compilePolicy(policy: VerificationPolicy | undefined): CompiledPolicy {
  if (!policy)
    throw new SigilError('POLICY_REQUIRED', 'verification needs an identity policy (or skipIdentityUnsafe)');
  const hit = compiled.get(policy);
  if (hit) return hit;
  const identities = policy.identities ?? [];
  if (identities.length > MAX_IDENTITIES)
    throw new SigilError('INVALID_POLICY', `at most ${MAX_IDENTITIES} identities`);
  if (identities.length === 0 && policy.skipIdentityUnsafe !== true) {
    throw new SigilError(
      'POLICY_REQUIRED',
      'verification needs at least one identity (subject and issuer), or skipIdentityUnsafe',
    );
  }
  const out: CompiledPolicy = {
    skipIdentityUnsafe: policy.skipIdentityUnsafe === true,
    identities: identities.map(compileIdentity),
  };
  compiled.set(policy, out);
  return out;
}

/**
 * Checks the certificate against the policy; returns the identity that matched.
 * Throws IDENTITY_MISMATCH naming what the certificate holds.
 */
export function matchIdentity(policy: CompiledPolicy, cert: ParsedCertificate): IdentityPolicy | undefined {
  if (policy.skipIdentityUnsafe && policy.identities.length === 0) return undefined;
  const sans = sanValues(cert);
  const issuer = cert.oidcIssuer;
  const reasons: string[] = [];
  for (const id of policy.identities) {
    if (!id.subject(sans)) {
      reasons.push('subject');
      continue;
    }
    if (!id.issuer(issuer)) {
      reasons.push('issuer');
      continue;
    }
    const bad = id.checks.find(([, get, want]) => get(cert) !== want);
    if (bad) {
      reasons.push(`${bad[0]} (got ${JSON.stringify(bad[1](cert) ?? null)})`);
      continue;
    }
    return id.source;
  }
  throw new SigilError(
    'IDENTITY_MISMATCH',
    `identity: none of the expected identities matched (mismatch: ${[...new Set(reasons)].join(', ')}); got subjects ${JSON.stringify(sans)} with issuer ${JSON.stringify(issuer ?? null)}`,
  );
}
