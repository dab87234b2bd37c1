import type { verifyTimestamp } from './verify.js';

/**
 * The RFC 3161 verifier once its module (and with it the ASN.1/CMS stack, @peculiar/asn1-*, some
 * 140 modules: most of `sigil verify-blob`'s start-up) has been evaluated. This file imports
 * nothing at run time, so a verifier can be built without that stack and load it only for
 * bundles that carry timestamps.
 */
let loaded: typeof verifyTimestamp | undefined;

export function timestampVerifierLoaded(): typeof verifyTimestamp | undefined {
  return loaded;
}

/** Called by ./verify.js as it is evaluated, so a static import of it is enough. */
export function setTimestampVerifier(verify: typeof verifyTimestamp): void {
  loaded = verify;
}

export async function loadTimestampVerifier(): Promise<typeof verifyTimestamp> {
  return loaded ?? (await import('./verify.js')).verifyTimestamp;
}
