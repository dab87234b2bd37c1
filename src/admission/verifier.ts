import type { CosignSignatureLayer, TrustedRoot } from '../bundle/index.js';
import type { ImageReference } from '../oci/index.js';
import type { SecretRef, SigningAttestor } from './policy/types.js';

/**
 * The two seams between the admission engine and the rest of sigil. The engine decides
 * *what* to check (matching, attestor counts, messages, caching, timeouts); these answer
 * *whether* it holds. Both real implementations live in real-verifier.ts (src/oci + src/verify).
 */

/**
 * Which registry credentials a lookup uses instead of the webhook's defaults (Kyverno: the
 * entry's imageRegistryCredentials.secrets, then the resource's imagePullSecrets), in order.
 */
export interface RegistryAccess {
  secrets: readonly SecretRef[];
}

/** IVP `cosign.source`: the repository and tag prefix an attestor's signatures are looked up under. */
export interface SignatureLookup {
  /** `registry/repository` (cosign's target repository). */
  repository?: string;
  tagPrefix?: string;
}

/**
 * Keys the fetcher puts on the layers it hands the verifier (never taken from a registry:
 * registry annotations under this prefix are dropped). `kind` marks a v3 bundle (payload =
 * the bundle JSON); `subject` names the digest the signature was found for (the image, or
 * the platform manifest an index selected).
 */
export const FETCHED = {
  kind: 'dev.sigil.fetched/kind',
  subject: 'dev.sigil.fetched/subject',
} as const;

/** I/O: what the registry serves now. Throwing = the registry could not be asked (an *error*),
 * except NOT_FOUND / DIGEST_MISMATCH / INVALID_* which are the image's fault (a *failure*). */
export interface ImageSource {
  /** The digest of the manifest the reference names now (a pinned digest is checked to exist here). */
  resolveDigest(ref: ImageReference, signal: AbortSignal, access?: RegistryAccess): Promise<string>;
  /** Signatures stored for `ref.digest` (v3 bundles, FETCHED-labelled, and legacy `.sig` layers). */
  fetchSignatures(
    pinned: ImageReference,
    signal: AbortSignal,
    access?: RegistryAccess,
    lookup?: SignatureLookup,
  ): Promise<CosignSignatureLayer[]>;
  /**
   * The identity of the credentials `access` amounts to (caches and in-flight lookups are kept
   * apart per identity, so an answer got with a secret never serves a request without it).
   */
  credentialKey?(access: RegistryAccess | undefined): string;
}

/** What one verified signature says about its signer (for logs, warnings and the CLI). */
export interface VerifiedSignature {
  subject?: string;
  issuer?: string;
  logIndex?: number;
  integratedTime?: number;
}

export type AttestorOutcome = { ok: true; signatures: VerifiedSignature[] } | { ok: false; reason: string };

/** Pure and offline: do these signature layers, over `pinned.digest`, satisfy one attestor? */
export interface SignatureVerifier {
  /** `trustedRoot`, when given, stands in for the verifier's own (an IVP attestor's `tuf` root). */
  verifyAttestor(
    pinned: ImageReference,
    layers: readonly CosignSignatureLayer[],
    attestor: SigningAttestor,
    trustedRoot?: TrustedRoot,
  ): AttestorOutcome | Promise<AttestorOutcome>;
}
