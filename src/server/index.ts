export * from './app.js';
export * from './json-depth.js';
export * from './shutdown.js';
export * from './cluster.js';
