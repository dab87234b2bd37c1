import { SigilError } from '../errors/index.js';
import { EKU_CODE_SIGNING, CT, EXT } from './oids.js';
import { isValidAt, type ParsedCertificate } from './parse.js';
import { signatureVerifies } from './issued-by.js';

/** A CA from the trusted root: its chain runs from the issuer of leaves to the anchor (last). */
export interface CertificateAuthority {
  uri?: string;
  certChain: ParsedCertificate[];
  validFor: { start: Date; end?: Date };
}

export interface ChainOptions {
  /** The time the chain must be valid at: the log's integrated time, not now. */
  at: Date;
  /** Intermediates that came with the signed thing (untrusted; they must chain to an anchor). */
  untrustedIntermediates?: readonly ParsedCertificate[];
  /** Leaf must carry the codeSigning EKU (default true). */
  requireCodeSigning?: boolean;
  /** The EKU intermediates must allow when they restrict EKUs (default codeSigning; timeStamping for TSAs). */
  pathEku?: string;
  maxIntermediates?: number;
}

export const MAX_INTERMEDIATES = 10;
const MAX_SIGNATURE_CHECKS = 64;
const ANY_EKU = '2.5.29.37.0';
const UNDERSTOOD_CRITICAL = new Set<string>([
  EXT.basicConstraints,
  EXT.keyUsage,
  EXT.extKeyUsage,
  EXT.subjectAltName,
  EXT.subjectKeyId,
  EXT.authorityKeyId,
]);

/** Issuer signatures already verified between certificates of the trust material (parsed once). */
const verifiedIssuers = new WeakMap<ParsedCertificate, WeakSet<ParsedCertificate>>();

function chainError(message: string): SigilError {
  return new SigilError('CERTIFICATE_CHAIN_FAILED', `certificate chain: ${message}`);
}

function signedBy(child: ParsedCertificate, issuer: ParsedCertificate, cacheable: boolean): boolean {
  if (!child.issuerName.equals(issuer.subjectName)) return false;
  if (child.authorityKeyId && issuer.subjectKeyId && !child.authorityKeyId.equals(issuer.subjectKeyId))
    return false;
  if (cacheable && verifiedIssuers.get(child)?.has(issuer)) return true;
  const ok = signatureVerifies(child, issuer);
  if (ok && cacheable) {
    let set = verifiedIssuers.get(child);
    if (!set) verifiedIssuers.set(child, (set = new WeakSet()));
    set.add(issuer);
  }
  return ok;
}

/**
 * Validates leaf → intermediates → anchor against the CAs valid at `options.at`, checking every
 * signature, every certificate's validity at that time, CA basic constraints, key usage, path
 * length, EKU and unknown critical extensions. Returns the path (leaf first, anchor last).
 * Throws CERTIFICATE_EXPIRED when only validity at the time fails, CERTIFICATE_CHAIN_FAILED otherwise.
 */
export function validateChain(
  leaf: ParsedCertificate,
  authorities: readonly CertificateAuthority[],
  options: ChainOptions,
): ParsedCertificate[] {
  const max = options.maxIntermediates ?? MAX_INTERMEDIATES;
  const untrusted = options.untrustedIntermediates ?? [];
  if (untrusted.length > max) throw chainError(`more than ${max} intermediate certificates`);
  const at = options.at;
  if (Number.isNaN(at.getTime())) throw chainError('no valid time to check the chain at');
  checkLeaf(leaf, options.requireCodeSigning ?? true);
  const usable = authorities.filter(
    (ca) =>
      ca.certChain.length > 0 &&
      ca.validFor.start <= at &&
      (ca.validFor.end === undefined || at <= ca.validFor.end),
  );
  if (usable.length === 0)
    throw chainError(`no certificate authority in the trusted root is valid at ${at.toISOString()}`);
  let lastError: SigilError | undefined;
  for (const ca of usable) {
    const path = findPath(leaf, ca, untrusted, max);
    if (!path) continue;
    try {
      checkPath(path, at, options.pathEku ?? EKU_CODE_SIGNING);
      return path;
    } catch (e) {
      lastError = e as SigilError;
    }
  }
  throw lastError ?? chainError('the certificate does not chain to a trusted root');
}

function findPath(
  leaf: ParsedCertificate,
  ca: CertificateAuthority,
  untrusted: readonly ParsedCertificate[],
  max: number,
): ParsedCertificate[] | undefined {
  const anchor = ca.certChain[ca.certChain.length - 1]!;
  const trusted = ca.certChain;
  // Dead ends are remembered and signature checks budgeted, so crafted pools of look-alike
  // intermediates cannot make path building exponential.
  const deadEnds = new Set<ParsedCertificate>();
  let budget = MAX_SIGNATURE_CHECKS;
  const walk = (path: ParsedCertificate[]): ParsedCertificate[] | undefined => {
    const cur = path[path.length - 1]!;
    if (cur.der.equals(anchor.der) && path.length > 1) return path;
    if (path.length - 1 > max || deadEnds.has(cur)) return undefined;
    const candidates: [ParsedCertificate, boolean][] = [
      ...trusted.map((c): [ParsedCertificate, boolean] => [c, true]),
      ...untrusted.map((c): [ParsedCertificate, boolean] => [c, false]),
    ];
    for (const [cand, isTrusted] of candidates) {
      if (path.some((p) => p.der.equals(cand.der))) continue;
      if (!cur.issuerName.equals(cand.subjectName)) continue;
      if (--budget < 0) throw chainError('too many candidate issuers');
      if (!signedBy(cur, cand, isTrusted && trusted.includes(cur))) continue;
      const found = walk([...path, cand]);
      if (found) return found;
    }
    deadEnds.add(cur);
    return undefined;
  };
  return walk([leaf]);
}

function checkLeaf(leaf: ParsedCertificate, requireCodeSigning: boolean): void {
  if (leaf.basicConstraints?.ca) throw chainError('the signing certificate is a CA certificate');
  if (leaf.keyUsage && !leaf.keyUsage.has('digitalSignature')) {
    throw chainError('the signing certificate lacks the digitalSignature key usage');
  }
  if (requireCodeSigning && !leaf.extKeyUsage?.includes(EKU_CODE_SIGNING)) {
    throw chainError('the signing certificate lacks the codeSigning extended key usage');
  }
  if (leaf.extensions.some((e) => e.oid === CT.poison))
    throw chainError('the signing certificate is a precertificate');
  checkCritical(leaf, 'signing certificate');
}

function checkCritical(c: ParsedCertificate, what: string): void {
  const unknown = c.extensions.find((e) => e.critical && !UNDERSTOOD_CRITICAL.has(e.oid));
  if (unknown) throw chainError(`${what} has an unsupported critical extension ${unknown.oid}`);
}

function checkPath(path: ParsedCertificate[], at: Date, eku: string): void {
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    const what = i === path.length - 1 ? 'trust anchor' : `intermediate ${i}`;
    if (!c.basicConstraints?.ca) throw chainError(`${what} is not a CA certificate`);
    if (c.keyUsage && !c.keyUsage.has('keyCertSign')) throw chainError(`${what} may not sign certificates`);
    if (c.basicConstraints.pathLen !== undefined && c.basicConstraints.pathLen < i - 1) {
      throw chainError(`${what} path length constraint exceeded`);
    }
    if (c.extKeyUsage && !c.extKeyUsage.includes(eku) && !c.extKeyUsage.includes(ANY_EKU)) {
      throw chainError(`${what} does not allow the extended key usage ${eku}`);
    }
    checkCritical(c, what);
  }
  path.forEach((c, i) => {
    if (!isValidAt(c, at)) {
      const what =
        i === 0 ? 'signing certificate' : i === path.length - 1 ? 'trust anchor' : `intermediate ${i}`;
      throw new SigilError(
        'CERTIFICATE_EXPIRED',
        `certificate chain: the ${what} was not valid at ${at.toISOString()} (valid ${c.notBefore.toISOString()} to ${c.notAfter.toISOString()})`,
      );
    }
  });
}
