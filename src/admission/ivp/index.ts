export * from './types.js';
export { parseIvp, ivpEnv } from './spec.js';
export {
  evaluateIvp,
  selectProgram,
  type IvpRequest,
  type IvpResult,
  type IvpVerifier,
  type IvpPatch,
} from './evaluate.js';
export { ivpResponse, ivpDenialMessage, type IvpResponse } from './decision.js';
export {
  IvpVerification,
  registryIvpSource,
  ivpVerificationFor,
  type IvpImageSource,
  type IvpSignatureVerifier,
} from './verifier.js';
export { compileExpression, makeEnv, type CompiledExpression } from './cel.js';
export { CEL_LIMITS } from './limits.js';
export { targetFor } from './target.js';
