import { SigilError } from '../errors/index.js';
import { challengeClaimOf, type IssuerConfig, type IssuerType } from './config.js';

export type SanKind = 'email' | 'uri' | 'otherName';

/** The verified identity a certificate is issued for. */
export interface Principal {
  type: IssuerType;
  /** Token `iss` (the certificate's issuer extension). */
  issuer: string;
  /** Token `sub`. */
  subject: string;
  /** What the proof of possession must be a signature over (email or sub, or the configured claim). */
  name: string;
  /** The single SubjectAlternativeName of the certificate. */
  san: { kind: SanKind; value: string };
  /** Verified claims (source of the GitHub workflow extensions). */
  claims: Readonly<Record<string, unknown>>;
}

export const GITHUB_URL = 'https://github.com';

/** Claims Fulcio's github-workflow principal requires (WIRE §1.7). */
export const GITHUB_REQUIRED_CLAIMS = [
  'job_workflow_ref',
  'sha',
  'event_name',
  'repository',
  'workflow',
  'ref',
  'job_workflow_sha',
  'runner_environment',
  'repository_id',
  'repository_owner',
  'repository_owner_id',
  'repository_visibility',
  'workflow_ref',
  'workflow_sha',
  'run_id',
  'run_attempt',
] as const;

const EMAIL =
  /^[^\s@<>()[\],;:"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const MAX_CLAIM_LENGTH = 4096;

/** Maps verified claims to a principal for the issuer's type; throws INVALID_TOKEN when claims are missing. */
export function principalFromClaims(claims: Record<string, unknown>, issuer: IssuerConfig): Principal {
  const iss = claimString(claims, 'iss');
  const sub = claimString(claims, 'sub');
  const base = { type: issuer.type, issuer: iss, subject: sub, claims };
  const name = challengeName(claims, issuer);
  switch (issuer.type) {
    case 'email': {
      const email = claimString(claims, 'email');
      if (!issuer.skipEmailVerification && claims.email_verified !== true) {
        throw new SigilError('INVALID_TOKEN', 'email_verified claim must be true');
      }
      if (!EMAIL.test(email)) throw new SigilError('INVALID_TOKEN', 'email claim is not a valid address');
      return { ...base, name, san: { kind: 'email', value: email } };
    }
    case 'github-workflow': {
      for (const c of GITHUB_REQUIRED_CLAIMS) claimString(claims, c);
      const ref = claimString(claims, 'job_workflow_ref');
      return { ...base, name, san: { kind: 'uri', value: `${GITHUB_URL}/${ref}` } };
    }
    case 'uri': {
      const url = parseUrl(sub);
      const domain = parseUrl(issuer.subjectDomain ?? '');
      if (url.protocol !== domain.protocol || url.host !== domain.host) {
        throw new SigilError('INVALID_TOKEN', 'subject URI is not in the configured subject domain');
      }
      return { ...base, name, san: { kind: 'uri', value: sub } };
    }
    case 'spiffe': {
      const m = /^spiffe:\/\/([^/]+)(\/.*)?$/.exec(sub);
      if (!m || m[1] !== issuer.subjectDomain) {
        throw new SigilError('INVALID_TOKEN', 'subject is not a SPIFFE ID in the configured trust domain');
      }
      return { ...base, name, san: { kind: 'uri', value: sub } };
    }
    case 'username': {
      if (sub.includes('!')) throw new SigilError('INVALID_TOKEN', 'username must not contain "!"');
      return { ...base, name, san: { kind: 'otherName', value: `${sub}!${issuer.subjectDomain}` } };
    }
  }
}

function challengeName(claims: Record<string, unknown>, issuer: IssuerConfig): string {
  return claimString(claims, challengeClaimOf(issuer));
}

/** A string claim that must be present and non-empty (numbers are accepted as their decimal form). */
export function claimString(claims: Record<string, unknown>, name: string): string {
  const v = claims[name];
  const s = typeof v === 'number' && Number.isFinite(v) ? String(v) : v;
  if (typeof s !== 'string' || s === '') throw new SigilError('INVALID_TOKEN', `token has no ${name} claim`);
  if (s.length > MAX_CLAIM_LENGTH) throw new SigilError('INVALID_TOKEN', `${name} claim is too long`);
  return s;
}

function parseUrl(s: string): URL {
  try {
    return new URL(s);
  } catch {
    throw new SigilError('INVALID_TOKEN', `not a URL: ${s.slice(0, 100)}`);
  }
}
