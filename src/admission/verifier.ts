import type { CosignSignatureLayer } from '../bundle/index.js';
import type { ImageReference } from '../oci/index.js';
import type { KeyAttestor, KeylessAttestor } from './policy/types.js';

/**
 * The two seams between the admission engine and the rest of sigil. The engine decides
 * *what* to check (matching, attestor counts, messages, caching, timeouts); these answer
 * *whether* it holds. Both real implementations live in real-verifier.ts (src/oci + src/verify).
 */

/** I/O: what the registry serves now. Throwing = the registry could not be asked (an *error*),
 * except NOT_FOUND / DIGEST_MISMATCH / INVALID_* which are the image's fault (a *failure*). */
export interface ImageSource {
  /** The digest of the manifest the reference names now (a pinned digest is checked to exist here). */
  resolveDigest(ref: ImageReference, signal: AbortSignal): Promise<string>;
  /** cosign signature layers stored for `ref.digest` (`sha256-<hex>.sig`); [] when there are none. */
  fetchSignatures(pinned: ImageReference, signal: AbortSignal): Promise<CosignSignatureLayer[]>;
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
  verifyAttestor(
    pinned: ImageReference,
    layers: readonly CosignSignatureLayer[],
    attestor: KeylessAttestor | KeyAttestor,
  ): AttestorOutcome | Promise<AttestorOutcome>;
}
