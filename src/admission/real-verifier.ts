import type { CosignSignatureLayer, TrustedRoot } from '../bundle/index.js';
import { pemBlocks } from '../crypto/index.js';
import type { ImageReference } from '../oci/index.js';
import { COSIGN_SIGN_PREDICATE, type FoundBundle } from '../oci/referrers.js';
import { checkImageBundles } from '../oci/verify-bundles.js';
import {
  checkCosignSignatures,
  extensionText,
  type TrustMaterial,
  type VerificationResult,
} from '../verify/index.js';
import { parseCertificate } from '../x509/parse.js';
import { verifyImageAttestations } from '../oci/verify-attestations.js';
import type { AttachedLayer } from '../oci/cosign.js';
import {
  attestorOptions,
  attestorTrust,
  certificateModeOptions,
  certificateProblem,
} from './attestor-trust.js';
import { wildcardMatches } from './policy/wildcard.js';
import type { IdentityMatcher, KeylessAttestor, SigningAttestor } from './policy/types.js';
import { registryAnnotations } from './registry-source.js';
import { FETCHED, type AttestorOutcome, type SignatureVerifier, type VerifiedSignature } from './verifier.js';

export { FETCHED };
export { registryImageSource, type RegistrySourceOptions } from './registry-source.js';

function describeIdentity(id: IdentityMatcher): string {
  const parts: string[] = [];
  if (id.subject) parts.push(`subject ${id.subject.pattern}`);
  if (id.subjectRegExp) parts.push(`subjectRegExp ${id.subjectRegExp.source}`);
  if (id.issuer) parts.push(`issuer ${id.issuer}`);
  if (id.issuerRegExp) parts.push(`issuerRegExp ${id.issuerRegExp.source}`);
  return parts.join(', ');
}

const MAX_MATCH_INPUT = 4096;

/**
 * Kyverno keyless identity semantics: every field set must match; subject/subjectRegExp against
 * any SAN, or against the URI SANs only when the pattern spells a URI (`uris`).
 */
function identityMismatch(
  id: IdentityMatcher,
  sans: readonly string[],
  uris: readonly string[],
  issuer: string | undefined,
): string | undefined {
  const usable = (id.subjectIsUri ? uris : sans).filter((s) => s.length <= MAX_MATCH_INPUT);
  if (id.subject && !usable.some((s) => wildcardMatches(id.subject!, s))) {
    return `subject mismatch: expected ${id.subject.pattern}, received ${JSON.stringify(sans)}`;
  }
  if (id.subjectRegExp && !usable.some((s) => id.subjectRegExp!.test(s))) {
    return `subject mismatch: expected ${id.subjectRegExp.source}, received ${JSON.stringify(sans)}`;
  }
  if (id.issuer !== undefined && issuer !== id.issuer)
    return `issuer mismatch: expected ${id.issuer}, received ${issuer ?? '(none)'}`;
  if (
    id.issuerRegExp &&
    !(issuer !== undefined && issuer.length <= MAX_MATCH_INPUT && id.issuerRegExp.test(issuer))
  ) {
    return `issuer mismatch: expected ${id.issuerRegExp.source}, received ${issuer ?? '(none)'}`;
  }
  return undefined;
}

function summary(r: VerificationResult): VerifiedSignature {
  return {
    ...(r.identity?.subjectAlternativeNames[0] ? { subject: r.identity.subjectAlternativeNames[0] } : {}),
    ...(r.identity?.issuer ? { issuer: r.identity.issuer } : {}),
    ...(r.logIndex !== undefined ? { logIndex: r.logIndex } : {}),
    ...(r.integratedTimeUnix !== undefined ? { integratedTime: r.integratedTimeUnix } : {}),
  };
}

/** One signature that passed the crypto pipeline, whichever layout it came in. */
interface Passed {
  result: VerificationResult;
  leaf?: Buffer;
}

/** Layers grouped as the fetcher labelled them: v3 bundles, and legacy layers per subject digest. */
function splitLayers(
  pinnedDigest: string,
  layers: readonly CosignSignatureLayer[],
): { bundles: FoundBundle[]; legacy: Map<string, CosignSignatureLayer[]> } {
  const bundles: FoundBundle[] = [];
  const legacy = new Map<string, CosignSignatureLayer[]>();
  for (const l of layers) {
    const subject = l.annotations[FETCHED.subject] ?? pinnedDigest;
    if (l.annotations[FETCHED.kind] === 'bundle') {
      const bytes = Buffer.from(l.payload);
      bundles.push({
        manifestDigest: '',
        layerDigest: '',
        mediaType: '',
        bytes,
        subject,
        via: 'referrers-api',
      });
    } else {
      const list = legacy.get(subject) ?? [];
      list.push({ payload: l.payload, annotations: registryAnnotations(l.annotations) });
      legacy.set(subject, list);
    }
  }
  return { bundles, legacy };
}

/** The signatures among `layers` that pass the pipeline with these options, and why the others did not. */
function passing(
  trust: TrustMaterial,
  digest: string,
  layers: readonly CosignSignatureLayer[],
  policy: { skipIdentityUnsafe: true } | undefined,
  options: ReturnType<typeof attestorOptions>,
): { passed: Passed[]; failures: string[] } {
  const { bundles, legacy } = splitLayers(digest, layers);
  const passed: Passed[] = [];
  const failures: string[] = [];
  for (const [subject, group] of legacy) {
    const r = checkCosignSignatures(trust, subject, group, policy, options);
    for (const v of r.verified)
      passed.push({ result: v.result, ...(v.item.certificate ? { leaf: v.item.certificate } : {}) });
    failures.push(...r.failures.map((f) => f.message));
  }
  const b = checkImageBundles(trust, bundles, policy, options, { predicateType: COSIGN_SIGN_PREDICATE });
  for (const v of b.verified) passed.push({ result: v.result, ...(v.leaf ? { leaf: v.leaf } : {}) });
  failures.push(...b.failures.map((f) => f.message));
  return { passed, failures };
}

/**
 * Signature verification on src/verify: each layer goes through the full offline pipeline
 * (log SET/proof, chain at the logged time, SCT, signature, payload claims naming this digest),
 * then the attestor's Kyverno identity (subject wildcard / regexp, issuer, extensions) picks the
 * signatures it accepts. Trust comes from the server's trusted root (or the one given, an IVP
 * attestor's TUF root), overridden per attestor by `roots`, `rekor.pubkey` and `ctlog.pubkey`.
 */
export class SigstoreSignatureVerifier implements SignatureVerifier {
  /** Per trusted root (the server's, or a TUF-fetched one), per attestor. */
  private readonly trustByRoot = new WeakMap<object, WeakMap<object, TrustMaterial>>();

  private readonly certProblems = new WeakMap<object, WeakMap<object, string | false>>();

  private readonly noRoot = {};

  constructor(private readonly trustedRoot?: TrustedRoot) {}

  private trustFor(a: SigningAttestor, base: TrustedRoot | undefined): TrustMaterial {
    const root = base ?? this.trustedRoot;
    const rootKey = root ?? this.noRoot;
    let byAttestor = this.trustByRoot.get(rootKey);
    if (!byAttestor) this.trustByRoot.set(rootKey, (byAttestor = new WeakMap()));
    let trust = byAttestor.get(a);
    if (!trust) byAttestor.set(a, (trust = attestorTrust(root, a)));
    return trust;
  }

  /** A certificate attestor's own chain and SCT (static policy data: checked once per trust). */
  private certificateProblem(a: SigningAttestor, trust: TrustMaterial): string | undefined {
    if (a.kind !== 'certificate') return undefined;
    let byTrust = this.certProblems.get(trust);
    if (!byTrust) this.certProblems.set(trust, (byTrust = new WeakMap()));
    let p = byTrust.get(a);
    if (p === undefined) byTrust.set(a, (p = certificateProblem(a, trust) ?? false));
    return p === false ? undefined : p;
  }

  verifyAttestor(
    pinned: ImageReference,
    layers: readonly CosignSignatureLayer[],
    a: SigningAttestor,
    trustedRoot?: TrustedRoot,
  ): AttestorOutcome {
    const digest = pinned.digest;
    if (!digest) return { ok: false, reason: 'image has no digest' };
    const trust = this.trustFor(a, trustedRoot);
    const problem = this.certificateProblem(a, trust);
    if (problem) return { ok: false, reason: problem };
    const policy = a.kind === 'keyless' ? { skipIdentityUnsafe: true as const } : undefined;
    const { passed, failures } = passing(trust, digest, layers, policy, attestorOptions(a));
    if (a.kind === 'certificate' && a.chain) {
      // cosign sign --key --certificate: the signature carries the certificate; it must be this
      // one (its key), chained to certChain at the logged time, with the SCT unless ignored.
      const want = parseCertificate(pemBlocks(a.certificate)[0]!.der).spki;
      const r = passing(trust, digest, layers, { skipIdentityUnsafe: true }, certificateModeOptions(a));
      passed.push(...r.passed.filter((v) => v.leaf && parseCertificate(v.leaf).spki.equals(want)));
      failures.push(...r.failures);
    }
    if (passed.length === 0) {
      const reasons = [...new Set(failures)];
      return { ok: false, reason: reasons.length > 0 ? reasons.join('; ') : 'no signatures found' };
    }
    if (a.kind !== 'keyless') return { ok: true, signatures: passed.map((p) => summary(p.result)) };
    const accepted: VerifiedSignature[] = [];
    const mismatches: string[] = [];
    for (const v of passed) {
      const why = this.identityWhy(v, a);
      if (why === undefined) accepted.push(summary(v.result));
      else mismatches.push(why);
    }
    if (accepted.length > 0) return { ok: true, signatures: accepted };
    return { ok: false, reason: [...new Set(mismatches)].join('; ') };
  }

  /**
   * In-toto attestations (cosign `.att` layers) of `predicateType` over `pinned.digest` that
   * this attestor accepts, with their statements (for the IVP's extractPayload).
   */
  verifyAttestations(
    pinned: ImageReference,
    layers: readonly AttachedLayer[],
    a: SigningAttestor,
    predicateType: string,
    trustedRoot?: TrustedRoot,
  ): { ok: true; statements: unknown[] } | { ok: false; reason: string } {
    const digest = pinned.digest;
    if (!digest) return { ok: false, reason: 'image has no digest' };
    if (layers.length === 0) return { ok: false, reason: 'no attestations found' };
    const trust = this.trustFor(a, trustedRoot);
    const problem = this.certificateProblem(a, trust);
    if (problem) return { ok: false, reason: problem };
    let verified;
    try {
      verified = verifyImageAttestations(
        trust,
        digest,
        layers,
        a.kind === 'keyless' ? { skipIdentityUnsafe: true } : undefined,
        { ...attestorOptions(a), predicateType },
      );
    } catch (e) {
      return { ok: false, reason: (e as Error).message };
    }
    if (a.kind !== 'keyless') return { ok: true, statements: verified.map((v) => v.statement) };
    const mismatches: string[] = [];
    const statements: unknown[] = [];
    for (const v of verified) {
      const pem = layers[v.index]?.certificate;
      const leaf = pem ? pemBlocks(pem)[0]?.der : undefined;
      const why = this.identityWhy({ result: v.result, ...(leaf ? { leaf } : {}) }, a);
      if (why === undefined) statements.push(v.statement);
      else mismatches.push(why);
    }
    if (statements.length > 0) return { ok: true, statements };
    return { ok: false, reason: [...new Set(mismatches)].join('; ') || 'no attestations verified' };
  }

  /** Why the keyless attestor's identities (URI SANs from the verified leaf) or extensions refuse `v`; undefined when accepted. */
  private identityWhy(v: Passed, a: KeylessAttestor): string | undefined {
    const sans = v.result.identity?.subjectAlternativeNames ?? [];
    const issuer = v.result.identity?.issuer;
    const uris = v.leaf
      ? parseCertificate(v.leaf)
          .subjectAlternativeNames.filter((n) => n.type === 'uri')
          .map((n) => n.value)
      : [];
    let why: string | undefined;
    for (const id of a.identities) {
      why = identityMismatch(id, sans, uris, issuer);
      if (why === undefined) break;
    }
    if (why === undefined) why = this.extensionMismatch(v, a);
    if (why === undefined) return undefined;
    return a.identities.length > 1
      ? `${why} (policy: ${a.identities.map(describeIdentity).join(' | ')})`
      : why;
  }

  private extensionMismatch(v: Passed, a: KeylessAttestor): string | undefined {
    const entries = Object.entries(a.additionalExtensions);
    if (entries.length === 0) return undefined;
    const der = v.leaf;
    if (!der) return 'extension mismatch: the signature has no certificate';
    const cert = parseCertificate(der);
    for (const [oid, want] of entries) {
      const got = extensionText(cert, oid);
      if (got !== want)
        return `extension mismatch: expected ${want} for key ${oid}, received ${got ?? '(absent)'}`;
    }
    return undefined;
  }
}
