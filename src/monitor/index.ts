export * from './check.js';
export * from './state.js';
export * from './run.js';
