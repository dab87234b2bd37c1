import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { preAuthEncoding, spkiDer } from '../../src/crypto/index.js';
import {
  createRekorV2Server,
  type RekorV2Server,
  type RekorV2ServerConfig,
} from '../../src/rekor-v2/server.js';
import { tempDir as rekorTempDir, startTestServer } from '../rekor/helpers.js';

export const tempDir = (t: { after(fn: () => void): void }): string => rekorTempDir(t, 'sigil-rekor-v2-');

export const startV2 = (
  t: { after(fn: () => Promise<void> | void): void },
  config: Partial<RekorV2ServerConfig> = {},
): Promise<RekorV2Server> => startTestServer(t, createRekorV2Server, config, 'sigil-rekor-v2-');

export const b64 = (b: Buffer | string): string => Buffer.from(b).toString('base64');

export type Keys = { privateKey: KeyObject; publicKey: KeyObject };
export const p256 = (): Keys => generateKeyPairSync('ec', { namedCurve: 'P-256' });

/** A hashedrekord v0.0.2 request over `data` (the key's own hash, as rekor-tiles expects). */
export function hashedRekordRequest(
  data: Buffer = Buffer.from(`artifact ${Math.random()}`),
  keys: Keys = p256(),
  o: { hash?: string; keyDetails?: string; der?: Buffer; certificate?: boolean } = {},
): { body: unknown; data: Buffer; digest: Buffer; signature: Buffer } {
  const hash = o.hash ?? 'sha256';
  const digest = createHash(hash).update(data).digest();
  const signature = sign(hash, data, keys.privateKey);
  const der = o.der ?? spkiDer(keys.publicKey);
  return {
    data,
    digest,
    signature,
    body: {
      hashedRekordRequestV002: {
        digest: b64(digest),
        signature: {
          content: b64(signature),
          verifier: {
            [o.certificate ? 'x509Certificate' : 'publicKey']: { rawBytes: b64(der) },
            keyDetails: o.keyDetails ?? 'PKIX_ECDSA_P256_SHA_256',
          },
        },
      },
    },
  };
}

/** A dsse v0.0.2 request as @sigstore/sign 5.1 sends it (one signature, one verifier). */
export function dsseRequest(
  payload: Buffer = Buffer.from(`{"_type":"https://in-toto.io/Statement/v1","n":${Math.random()}}`),
  keys: Keys = p256(),
  payloadType = 'application/vnd.in-toto+json',
): { body: unknown; signature: Buffer; payload: Buffer } {
  const signature = sign('sha256', preAuthEncoding(payloadType, payload), keys.privateKey);
  return {
    payload,
    signature,
    body: {
      dsseRequestV002: {
        envelope: { payload: b64(payload), payloadType, signatures: [{ sig: b64(signature), keyid: '' }] },
        verifiers: [
          { publicKey: { rawBytes: b64(spkiDer(keys.publicKey)) }, keyDetails: 'PKIX_ECDSA_P256_SHA_256' },
        ],
      },
    },
  };
}

export async function post(url: string, body: unknown, type = 'application/json'): Promise<Response> {
  return fetch(`${url}/api/v2/log/entries`, {
    method: 'POST',
    headers: { 'content-type': type },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}
