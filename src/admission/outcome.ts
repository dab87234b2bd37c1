import { isSigilError } from '../errors/index.js';
import { isRegistryAnswer } from '../oci/index.js';
import type { FailureAction } from './policy/types.js';

/**
 * Failure = the image's fault (unsigned, bad signature, absent); error = could not find out.
 * An HTTP error the registry answered with is a failure in Kyverno (only network errors and
 * deadlines are rule errors), so under an Enforce rule it is one here too: a registry that
 * answers 500 for the signatures must not get the pod in through failurePolicy Ignore. Under
 * Audit it stays an error, which still blocks under failurePolicy Fail.
 */
export function classify(e: unknown, action: FailureAction = 'Audit'): 'fail' | 'error' {
  if (!isSigilError(e)) return 'error';
  if (action === 'Enforce' && isRegistryAnswer(e)) return 'fail';
  switch (e.code) {
    case 'NOT_FOUND':
    case 'DIGEST_MISMATCH':
    case 'INVALID_REFERENCE':
    case 'INVALID_SIGNATURE':
    case 'INVALID_BUNDLE':
    case 'INVALID_CERTIFICATE':
    case 'NO_SIGNATURES':
    case 'VERIFICATION_FAILED':
    case 'SIGNATURE_MISMATCH':
    case 'CERTIFICATE_CHAIN_FAILED':
    case 'CERTIFICATE_EXPIRED':
    case 'TLOG_FAILED':
    case 'TLOG_ENTRY_MISMATCH':
    case 'INCLUSION_PROOF_FAILED':
    case 'CHECKPOINT_INVALID':
    case 'TIMESTAMP_INVALID':
    case 'TIMESTAMP_UNTRUSTED':
    case 'TIMESTAMP_OUTSIDE_VALIDITY':
    case 'THRESHOLD_NOT_MET':
    case 'SCT_FAILED':
    case 'IDENTITY_MISMATCH':
    case 'TOO_LARGE':
      return 'fail';
    default:
      return 'error';
  }
}

export function reasonOf(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').slice(0, 500);
}
