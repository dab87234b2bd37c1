export * from './types.js';
export * from './bundle.js';
export * from './trusted-root.js';
export * from './rekor-entry.js';
export * from './cosign.js';
export * from './signed-note.js';
export { FieldReader } from './protojson.js';
