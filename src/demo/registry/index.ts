export * from './store.js';
export * from './server.js';
export * from './docker-registry.js';
export * from './choose.js';
