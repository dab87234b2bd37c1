export * from './config.js';
export * from './issuer-match.js';
export * from './principal.js';
export * from './verify.js';
export * from './providers.js';
export * from './dev-claims.js';
