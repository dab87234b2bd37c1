import { decodeJwt } from 'jose';
import { SigilError } from '../errors/index.js';

/**
 * The string the proof of possession signs: the token's email when it has a verified one,
 * else its subject (what sigstore-js and sigstore-go sign; WIRE §0.2).
 */
export function proofSubject(token: string): string {
  let claims: Record<string, unknown>;
  try {
    claims = decodeJwt(token);
  } catch (e) {
    throw new SigilError('INVALID_TOKEN', 'the identity token does not decode as a JWT', { cause: e });
  }
  if (typeof claims.email === 'string' && claims.email !== '') {
    if (claims.email_verified !== true)
      throw new SigilError('INVALID_TOKEN', 'the identity token email is not verified');
    return claims.email;
  }
  if (typeof claims.sub !== 'string' || claims.sub === '')
    throw new SigilError('INVALID_TOKEN', 'the identity token has no subject');
  return claims.sub;
}
