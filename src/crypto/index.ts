export * from './encoding.js';
export * from './digest.js';
export * from './canonical-json.js';
export * from './dsse.js';
export * from './keys.js';
export * from './signature.js';
export * from './prehashed.js';
export * from './verifying-key.js';
