export * from './token.js';
export * from './verify.js';
