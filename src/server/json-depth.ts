import sjson from 'secure-json-parse';
import { SigilError } from '../errors/index.js';

export const DEFAULT_MAX_JSON_DEPTH = 64;

/**
 * Parses JSON after checking its nesting depth with a linear scan, so that no later
 * recursive walk (canonicalization, validation) can be driven into a stack overflow.
 */
export function parseJsonBounded(text: string, maxDepth = DEFAULT_MAX_JSON_DEPTH): unknown {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth)
        throw new SigilError('INVALID_JSON', `JSON nested deeper than ${maxDepth} levels`);
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  try {
    return sjson.parse(text, null, { protoAction: 'error', constructorAction: 'error' });
  } catch (e) {
    throw new SigilError('INVALID_JSON', `request body is not valid JSON: ${(e as Error).message}`);
  }
}
