import { verify as nodeVerify, type KeyObject } from 'node:crypto';
import { sha256Of, signDigestEc } from '../crypto/prehashed.js';

/** The four members a signed entry timestamp covers (WIRE §2.5). */
export interface SetFields {
  /** b64 of the canonical body, exactly as returned in `body`. */
  body: string;
  integratedTime: number;
  /** Hex SHA-256 of the log key's DER SPKI. */
  logID: string;
  logIndex: number;
}

/**
 * RFC 8785 JSON of the SET fields. The members are b64, hex and safe integers, so the canonical
 * text is assembled directly (keys in JCS order: body, integratedTime, logID, logIndex).
 */
export function setPayload(f: SetFields): Buffer {
  if (!/^[A-Za-z0-9+/=]*$/.test(f.body) || !/^[0-9a-f]*$/.test(f.logID))
    throw new TypeError('SET fields must be b64 and hex');
  return assemble(f);
}

/** setPayload of a stored leaf: its b64 is made here, so only the other members are checked. */
export function leafSetPayload(leaf: Buffer, f: Omit<SetFields, 'body'>): Buffer {
  if (!/^[0-9a-f]*$/.test(f.logID)) throw new TypeError('SET fields must be b64 and hex');
  return assemble({ ...f, body: leaf.toString('base64') });
}

function assemble(f: SetFields): Buffer {
  if (!Number.isSafeInteger(f.integratedTime) || !Number.isSafeInteger(f.logIndex))
    throw new TypeError('SET integers must be safe');
  return Buffer.from(
    `{"body":"${f.body}","integratedTime":${f.integratedTime},"logID":"${f.logID}","logIndex":${f.logIndex}}`,
    'latin1',
  );
}

/** ECDSA (SHA-256, ASN.1 DER) signature over the SET payload. */
export function signSet(privateKey: KeyObject, payload: Uint8Array): Buffer {
  return signDigestEc(privateKey, sha256Of(payload));
}

export function verifySet(publicKey: KeyObject, f: SetFields, signature: Uint8Array): boolean {
  try {
    return nodeVerify('sha256', setPayload(f), publicKey, signature);
  } catch {
    return false;
  }
}
