export * from './store.js';
export * from './server.js';
export * from './routes.js';
export * from './docker-registry.js';
export * from './choose.js';
