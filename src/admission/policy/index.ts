export * from './types.js';
export * from './wildcard.js';
export * from './regex.js';
export { type ParseContext } from './attestors.js';
export { parseKyvernoPolicy } from './kyverno.js';
export {
  parsePolicyText,
  loadPolicies,
  readPolicySources,
  parsePolicySources,
  deprecationNotice,
  type PolicySource,
} from './load.js';
export { ALL_KINDS, POD_CONTROLLERS } from './match.js';
