export * from './types.js';
export * from './bundle.js';
export * from './trusted-root.js';
export * from './rekor-entry.js';
export * from './cosign.js';
export * from './signed-note.js';
export { FieldReader, MAX_JSON_DEPTH, checkJsonDepth } from './protojson.js';
