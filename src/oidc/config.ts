import { parse as parseYaml } from 'yaml';
import { SigilError } from '../errors/index.js';

export const ISSUER_TYPES = ['github-workflow', 'email', 'uri', 'spiffe', 'username'] as const;
export type IssuerType = (typeof ISSUER_TYPES)[number];

export const DEFAULT_AUDIENCE = 'sigstore';
export const MAX_ISSUERS = 256;
const MAX_PATTERN_LENGTH = 512;

/** One trusted OIDC issuer, as configured (Fulcio's OIDCIssuer). */
export interface IssuerConfig {
  /** Exact issuer URL; or, when `wildcard` is true, a pattern in which `*` stands for [-_a-zA-Z0-9]+. */
  issuerUrl: string;
  wildcard: boolean;
  audience: string;
  type: IssuerType;
  /** uri: required URL prefix domain; spiffe: trust domain; username: the domain appended to the name. */
  subjectDomain?: string;
  /** The claim the proof of possession is signed over (default: email for email issuers, else sub). */
  challengeClaim?: string;
  skipEmailVerification: boolean;
}

export interface OidcConfig {
  issuers: IssuerConfig[];
}

/**
 * Parses the `--oidc-issuers` YAML. Either a list or `{issuers: [...]}`; each element has
 * `issuerUrl` or `wildcardIssuerUrl`, `type`, and optional `audience`, `subjectDomain`,
 * `challengeClaim`, `skipEmailVerification`.
 */
export function parseOidcConfig(yamlText: string): OidcConfig {
  let doc: unknown;
  try {
    doc = parseYaml(yamlText, { maxAliasCount: 10 });
  } catch (e) {
    throw new SigilError('INVALID_INPUT', `OIDC issuer file is not valid YAML: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const list = Array.isArray(doc) ? doc : isRecord(doc) ? doc.issuers : undefined;
  if (!Array.isArray(list) || list.length === 0) {
    throw new SigilError(
      'INVALID_INPUT',
      'OIDC issuer file must list at least one issuer (under `issuers:`)',
    );
  }
  if (list.length > MAX_ISSUERS) throw new SigilError('INVALID_INPUT', `at most ${MAX_ISSUERS} issuers`);
  return { issuers: list.map((item, i) => issuerFrom(item, i)) };
}

export function issuerFrom(item: unknown, i = 0): IssuerConfig {
  const where = `issuers[${i}]`;
  if (!isRecord(item)) throw new SigilError('INVALID_INPUT', `${where} must be a mapping`);
  const exact = optString(item, 'issuerUrl', where);
  const pattern = optString(item, 'wildcardIssuerUrl', where);
  if ((exact === undefined) === (pattern === undefined)) {
    throw new SigilError('INVALID_INPUT', `${where} needs exactly one of issuerUrl or wildcardIssuerUrl`);
  }
  const url = (exact ?? pattern) as string;
  if (url.length > MAX_PATTERN_LENGTH) throw new SigilError('INVALID_INPUT', `${where}: issuer URL too long`);
  if (!/^https?:\/\/[^\s]+$/.test(url))
    throw new SigilError('INVALID_INPUT', `${where}: issuer URL must be http(s)`);
  const type = optString(item, 'type', where);
  if (!type || !(ISSUER_TYPES as readonly string[]).includes(type)) {
    throw new SigilError('INVALID_INPUT', `${where}: type must be one of ${ISSUER_TYPES.join(', ')}`);
  }
  const subjectDomain =
    optString(item, 'subjectDomain', where) ?? optString(item, 'spiffeTrustDomain', where);
  if ((type === 'uri' || type === 'spiffe' || type === 'username') && !subjectDomain) {
    throw new SigilError('INVALID_INPUT', `${where}: type ${type} requires subjectDomain`);
  }
  const skip = item.skipEmailVerification;
  if (skip !== undefined && typeof skip !== 'boolean') {
    throw new SigilError('INVALID_INPUT', `${where}: skipEmailVerification must be a boolean`);
  }
  const cfg: IssuerConfig = {
    issuerUrl: url,
    wildcard: pattern !== undefined,
    audience: optString(item, 'audience', where) ?? optString(item, 'clientId', where) ?? DEFAULT_AUDIENCE,
    type: type as IssuerType,
    skipEmailVerification: skip === true,
  };
  if (subjectDomain) cfg.subjectDomain = subjectDomain;
  const challengeClaim = optString(item, 'challengeClaim', where);
  if (challengeClaim) cfg.challengeClaim = challengeClaim;
  return cfg;
}

/** The Fulcio `/api/v2/configuration` shape of the configured issuers. */
export function toFulcioConfiguration(cfg: OidcConfig): { issuers: Record<string, unknown>[] } {
  return {
    issuers: cfg.issuers.map((i) => {
      const out: Record<string, unknown> = i.wildcard
        ? { wildcardIssuerUrl: i.issuerUrl }
        : { issuerUrl: i.issuerUrl };
      out.audience = i.audience;
      out.challengeClaim = challengeClaimOf(i);
      if (i.type === 'spiffe' && i.subjectDomain) out.spiffeTrustDomain = i.subjectDomain;
      out.issuerType = i.type;
      if (i.subjectDomain && i.type !== 'spiffe') out.subjectDomain = i.subjectDomain;
      if (i.skipEmailVerification) out.skipEmailVerification = true;
      return out;
    }),
  };
}

export function challengeClaimOf(i: IssuerConfig): string {
  return i.challengeClaim ?? (i.type === 'email' ? 'email' : 'sub');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optString(o: Record<string, unknown>, key: string, where: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v === '')
    throw new SigilError('INVALID_INPUT', `${where}.${key} must be a non-empty string`);
  return v;
}
