export * from './trust.js';
export * from './policy.js';
export * from './result.js';
export * from './verifier.js';
export { verifyTlogEntry, type TlogEntryResult } from './tlog.js';
export { checkEntryBody } from './body.js';
export { verifyEmbeddedScts } from './sct.js';
export * from './cosign.js';
