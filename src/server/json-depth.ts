import sjson from 'secure-json-parse';
import { SigilError } from '../errors/index.js';
import { jsonNestsDeeperThan } from '../crypto/json-depth.js';

export const DEFAULT_MAX_JSON_DEPTH = 64;

/**
 * Parses JSON after checking its nesting depth with a linear scan, so that no later
 * recursive walk (canonicalization, validation) can be driven into a stack overflow.
 */
export function parseJsonBounded(text: string, maxDepth = DEFAULT_MAX_JSON_DEPTH): unknown {
  if (jsonNestsDeeperThan(text, maxDepth))
    throw new SigilError('INVALID_JSON', `JSON nested deeper than ${maxDepth} levels`);
  try {
    return sjson.parse(text, null, { protoAction: 'error', constructorAction: 'error' });
  } catch (e) {
    throw new SigilError('INVALID_JSON', `request body is not valid JSON: ${(e as Error).message}`);
  }
}
