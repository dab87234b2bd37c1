/** Verifying cosign `.att` layers is a reader's job: it lives in oci/ (kept here for sign's importers). */
export * from '../oci/verify-attestations.js';
