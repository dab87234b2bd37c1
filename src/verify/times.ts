import { SigilError } from '../errors/index.js';
import type { Bundle } from '../bundle/index.js';
import type { VerifiedTimestamp } from '../timestamp/index.js';
import { loadTimestampVerifier, timestampVerifierLoaded } from '../timestamp/loaded.js';
import type { VerifiedTlogEntry } from './tlog.js';
import { validAt, type TrustMaterial } from './trust.js';

/** The bytes a bundle's RFC 3161 timestamps cover: the artifact signature (DSSE: the envelope signature). */
export function timestampedBytes(bundle: Bundle): Buffer {
  const c = bundle.content;
  return c.kind === 'messageSignature' ? c.signature : c.envelope.signatures[0]!.sig;
}

export function thresholdError(message: string): SigilError {
  return new SigilError('THRESHOLD_NOT_MET', message);
}

/**
 * Loads RFC 3161 verification (the ASN.1/CMS stack) when `bundle` carries timestamps, or always
 * without a bundle. verifyBundle stays synchronous: every caller that may meet a timestamped
 * bundle awaits this first (the CLI, the admission verifier, conformance), and verifyBundle
 * refuses such a bundle when it has not run. A bundle without timestamps never loads the stack.
 */
export async function loadTimestampSupport(bundle?: Bundle): Promise<void> {
  if (bundle === undefined || bundle.verificationMaterial.rfc3161Timestamps.length > 0)
    await loadTimestampVerifier();
}

/**
 * Verifies every RFC 3161 timestamp of the bundle (a failed one is an error, never skipped) and
 * checks the TSA threshold, each authority counted once (as sigstore-go does).
 */
export function verifyBundleTimestamps(
  bundle: Bundle,
  trust: TrustMaterial,
  threshold: number,
): VerifiedTimestamp[] {
  const signed = timestampedBytes(bundle);
  const stamps = bundle.verificationMaterial.rfc3161Timestamps.map((der, i) => {
    const verifyTimestamp = timestampVerifierLoaded();
    if (verifyTimestamp === undefined)
      throw new SigilError(
        'TIMESTAMP_INVALID',
        `timestamp ${i}: RFC 3161 verification is not loaded (await loadTimestampSupport() before verifyBundle)`,
      );
    try {
      return verifyTimestamp(der, signed, trust.timestampAuthorities);
    } catch (e) {
      if (e instanceof SigilError)
        throw new SigilError(e.code, `timestamp ${i}: ${e.message.replace(/^timestamp: /, '')}`);
      throw e;
    }
  });
  // A copy of a timestamp is no second witness of the time: refused, as @sigstore/verify does.
  const seen = new Set<string>();
  for (const [i, s] of stamps.entries()) {
    const id = `${s.uri}\n${s.time.getTime()}`;
    if (seen.has(id))
      throw new SigilError(
        'TIMESTAMP_INVALID',
        `timestamp ${i}: a duplicate of an earlier timestamp (same authority and time)`,
      );
    seen.add(id);
  }
  const authorities = new Set(stamps.map((s) => s.uri));
  if (authorities.size < threshold) {
    throw thresholdError(
      `timestamps: expected verified timestamps from at least ${threshold} authorities, got ${authorities.size}`,
    );
  }
  return stamps;
}

/**
 * The verified signing times: SET-backed integrated times of Rekor v1 entries (all of them) and
 * TSA times. An entry without a SET (every Rekor v2 entry) has no trusted time of its own: its
 * log key must be valid at every TSA time, and without one the bundle has no trusted time for it.
 */
export function verifiedTimes(
  entries: readonly VerifiedTlogEntry[],
  stamps: readonly VerifiedTimestamp[],
): Date[] {
  // Every SET-backed time, not one per log: a later copy of the signature in the same log must
  // also fall in the certificate's validity (as @sigstore/verify 4.x checks).
  const setTimes = entries
    .filter(({ result: r }) => r.inclusionPromise)
    .map(({ result: r }) => r.integratedTime);
  for (const [i, { result: r, keys }] of entries.entries()) {
    if (r.inclusionPromise) continue;
    if (stamps.length === 0)
      throw thresholdError(
        `tlog entry ${i}: ${r.rekorV2 ? 'a Rekor v2 entry carries no time' : 'an entry without a SET carries no trusted time'}, and the bundle has no verified timestamp`,
      );
    for (const s of stamps) {
      if (!keys.some((k) => validAt(k.validFor, s.time)))
        throw new SigilError(
          'TLOG_FAILED',
          `tlog entry ${i}: the log key is not valid at the timestamp ${s.time.toISOString()}`,
        );
    }
  }
  return [...setTimes.map((t) => new Date(t * 1000)), ...stamps.map((s) => s.time)];
}
