export * from './reference.js';
export * from './media-types.js';
export * from './manifest.js';
export * from './auth.js';
export * from './client.js';
export * from './image.js';
export * from './simple-signing.js';
export * from './cosign.js';
