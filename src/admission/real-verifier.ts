import { createPublicKey } from 'node:crypto';
import type { CosignSignatureLayer, TransparencyLogInstance, TrustedRoot } from '../bundle/index.js';
import { TRUSTED_ROOT_MEDIA_TYPE } from '../bundle/index.js';
import { pemBlocks, sha256 } from '../crypto/index.js';
import { SigilError } from '../errors/index.js';
import { readAttestations, readSignatures, type ImageReference, type RegistryClient } from '../oci/index.js';
import {
  checkCosignSignatures,
  createTrustMaterial,
  extensionText,
  type TrustMaterial,
  type VerifiedCosignSignature,
} from '../verify/index.js';
import { parseCertificate } from '../x509/parse.js';
import { FULCIO } from '../x509/oids.js';
import { verifyImageAttestations } from '../sign/attestation.js';
import type { AttachedLayer } from '../oci/cosign.js';
import { wildcardMatches } from './policy/wildcard.js';
import type { IdentityMatcher, KeyAttestor, KeylessAttestor } from './policy/types.js';
import type { AttestorOutcome, ImageSource, SignatureVerifier, VerifiedSignature } from './verifier.js';

/** Rejects as soon as `signal` aborts (the registry client has its own, longer, timeout). */
function bounded<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new SigilError('TIMEOUT', 'registry request aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new SigilError('TIMEOUT', 'registry request aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * The registry side, on src/oci: tag → digest (and a pinned digest's presence) in one HEAD,
 * cosign `.sig` layers (bounded). The HEAD's digest is what gets verified and what the patch
 * pins; validation of an unpinned tag trusts the registry's answer exactly as far as the
 * kubelet's later pull by tag does.
 */
export function registryImageSource(client: RegistryClient): ImageSource & {
  fetchAttestations(pinned: ImageReference, signal: AbortSignal): Promise<AttachedLayer[]>;
} {
  return {
    resolveDigest: (ref, signal) => bounded(client.headDigest(ref), signal),
    fetchSignatures: (pinned, signal) => bounded(readSignatures(client, pinned), signal),
    fetchAttestations: (pinned: ImageReference, signal: AbortSignal) =>
      bounded(readAttestations(client, pinned), signal),
  };
}

function logFromPem(pem: string, baseUrl: string): TransparencyLogInstance {
  const der = createPublicKey(pem).export({ type: 'spki', format: 'der' });
  return {
    baseUrl,
    hashAlgorithm: 'SHA2_256',
    publicKey: { rawBytes: der, keyDetails: 'PKIX_ECDSA_P256_SHA_256' },
    logId: sha256(der),
  };
}

function emptyRoot(): TrustedRoot {
  return {
    mediaType: TRUSTED_ROOT_MEDIA_TYPE,
    tlogs: [],
    certificateAuthorities: [],
    ctlogs: [],
    timestampAuthorities: [],
  };
}

function describeIdentity(id: IdentityMatcher): string {
  const parts: string[] = [];
  if (id.subject) parts.push(`subject ${id.subject.pattern}`);
  if (id.subjectRegExp) parts.push(`subjectRegExp ${id.subjectRegExp.source}`);
  if (id.issuer) parts.push(`issuer ${id.issuer}`);
  if (id.issuerRegExp) parts.push(`issuerRegExp ${id.issuerRegExp.source}`);
  return parts.join(', ');
}

const MAX_MATCH_INPUT = 4096;

/** Kyverno keyless identity semantics: every field set must match; subject/subjectRegExp against any SAN. */
function identityMismatch(
  id: IdentityMatcher,
  sans: readonly string[],
  issuer: string | undefined,
): string | undefined {
  const usable = sans.filter((s) => s.length <= MAX_MATCH_INPUT);
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

function summary(v: VerifiedCosignSignature): VerifiedSignature {
  const r = v.result;
  return {
    ...(r.identity?.subjectAlternativeNames[0] ? { subject: r.identity.subjectAlternativeNames[0] } : {}),
    ...(r.identity?.issuer ? { issuer: r.identity.issuer } : {}),
    ...(r.logIndex !== undefined ? { logIndex: r.logIndex } : {}),
    ...(r.integratedTimeUnix !== undefined ? { integratedTime: r.integratedTimeUnix } : {}),
  };
}

/**
 * Signature verification on src/verify: each layer goes through the full offline pipeline
 * (log SET/proof, chain at the logged time, SCT, signature, payload claims naming this digest),
 * then the attestor's Kyverno identity (subject wildcard / regexp, issuer, extensions) picks the
 * signatures it accepts. Trust comes from the server's trusted root, overridden per attestor by
 * `roots`, `rekor.pubkey` and `ctlog.pubkey`.
 */
export class SigstoreSignatureVerifier implements SignatureVerifier {
  private readonly trustByAttestor = new WeakMap<object, TrustMaterial>();

  constructor(private readonly trustedRoot?: TrustedRoot) {}

  private trustFor(a: KeylessAttestor | KeyAttestor): TrustMaterial {
    const hit = this.trustByAttestor.get(a);
    if (hit) return hit;
    const base = this.trustedRoot ?? emptyRoot();
    const root: TrustedRoot = { ...base };
    if (a.kind === 'keyless' && a.roots) {
      root.certificateAuthorities = pemBlocks(a.roots).map((b, i) => ({
        uri: `policy-roots-${i}`,
        certChain: [b.der],
        validFor: {},
      }));
    }
    if (a.rekor.pubkey) root.tlogs = [logFromPem(a.rekor.pubkey, a.rekor.url ?? 'policy-rekor')];
    if (a.ctlog.pubkey) root.ctlogs = [logFromPem(a.ctlog.pubkey, 'policy-ctlog')];
    const trust = createTrustMaterial(root);
    this.trustByAttestor.set(a, trust);
    return trust;
  }

  verifyAttestor(
    pinned: ImageReference,
    layers: readonly CosignSignatureLayer[],
    a: KeylessAttestor | KeyAttestor,
  ): AttestorOutcome {
    const digest = pinned.digest;
    if (!digest) return { ok: false, reason: 'image has no digest' };
    const trust = this.trustFor(a);
    const tlogThreshold = a.rekor.ignoreTlog ? 0 : 1;
    const r =
      a.kind === 'keys'
        ? checkCosignSignatures(trust, digest, layers, undefined, {
            publicKey: createPublicKey(a.publicKey),
            tlogThreshold,
          })
        : checkCosignSignatures(
            trust,
            digest,
            layers,
            { skipIdentityUnsafe: true },
            { tlogThreshold, ctlogThreshold: a.ctlog.ignoreSCT ? 0 : 1 },
          );
    if (r.verified.length === 0) {
      const reasons = [...new Set(r.failures.map((f) => f.message))];
      return { ok: false, reason: reasons.length > 0 ? reasons.join('; ') : 'no signatures found' };
    }
    if (a.kind === 'keys') return { ok: true, signatures: r.verified.map(summary) };
    const accepted: VerifiedSignature[] = [];
    const mismatches: string[] = [];
    for (const v of r.verified) {
      const sans = v.result.identity?.subjectAlternativeNames ?? [];
      const issuer = v.result.identity?.issuer;
      let why: string | undefined;
      for (const id of a.identities) {
        why = identityMismatch(id, sans, issuer);
        if (why === undefined) break;
      }
      if (why === undefined) why = this.extensionMismatch(v, a);
      if (why === undefined) accepted.push(summary(v));
      else
        mismatches.push(
          a.identities.length > 1
            ? `${why} (policy: ${a.identities.map(describeIdentity).join(' | ')})`
            : why,
        );
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
    a: KeylessAttestor | KeyAttestor,
    predicateType: string,
  ): { ok: true; statements: unknown[] } | { ok: false; reason: string } {
    const digest = pinned.digest;
    if (!digest) return { ok: false, reason: 'image has no digest' };
    if (layers.length === 0) return { ok: false, reason: 'no attestations found' };
    let verified;
    try {
      verified = verifyImageAttestations(
        this.trustFor(a),
        digest,
        layers,
        a.kind === 'keys' ? undefined : { skipIdentityUnsafe: true },
        {
          tlogThreshold: a.rekor.ignoreTlog ? 0 : 1,
          ...(a.kind === 'keys'
            ? { publicKey: createPublicKey(a.publicKey) }
            : { ctlogThreshold: a.ctlog.ignoreSCT ? 0 : 1 }),
          predicateType,
        },
      );
    } catch (e) {
      return { ok: false, reason: (e as Error).message };
    }
    if (a.kind === 'keys') return { ok: true, statements: verified.map((v) => v.statement) };
    const names = Object.fromEntries(Object.entries(FULCIO).map(([n, oid]) => [oid, n]));
    const mismatches: string[] = [];
    const statements: unknown[] = [];
    for (const v of verified) {
      const ident = v.result.identity;
      let why: string | undefined;
      for (const id of a.identities) {
        why = identityMismatch(id, ident?.subjectAlternativeNames ?? [], ident?.issuer);
        if (why === undefined) break;
      }
      for (const [oid, want] of Object.entries(a.additionalExtensions)) {
        const got = (ident?.extensions as Record<string, string> | undefined)?.[names[oid] ?? oid];
        if (why === undefined && got !== want)
          why = `extension mismatch: expected ${want} for key ${oid}, received ${got ?? '(absent)'}`;
      }
      if (why === undefined) statements.push(v.statement);
      else mismatches.push(why);
    }
    if (statements.length > 0) return { ok: true, statements };
    return { ok: false, reason: [...new Set(mismatches)].join('; ') || 'no attestations verified' };
  }

  private extensionMismatch(v: VerifiedCosignSignature, a: KeylessAttestor): string | undefined {
    const entries = Object.entries(a.additionalExtensions);
    if (entries.length === 0) return undefined;
    const der = v.item.certificate;
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
