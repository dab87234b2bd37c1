import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { canonicalJson, spkiDer } from '../../src/crypto/index.js';
import { parseCreateEntryRequest } from '../../src/rekor-v2/request.js';
import { EMPTY_NAME, encodeTbs, randomSerial, signTbsSync } from '../../src/x509/build.js';
import { b64, hashedRekordRequest, p256 } from './helpers.js';

/** The logged entry as rekor-tiles writes it: the JCS of the Entry object. */
function expectedBody(
  req: ReturnType<typeof hashedRekordRequest>,
  field: string,
  der: Buffer,
  alg: string,
): Buffer {
  const verifier = { [field]: { rawBytes: b64(der) }, keyDetails: alg };
  return canonicalJson({
    apiVersion: '0.0.2',
    kind: 'hashedrekord',
    spec: {
      hashedRekordV002: {
        data: { algorithm: 'SHA2_256', digest: b64(req.digest) },
        signature: { content: b64(req.signature), verifier },
      },
    },
  });
}

test('a hashedrekord entry logs the JCS of its Entry, byte for byte, with a public key', () => {
  const keys = p256();
  const req = hashedRekordRequest(undefined, keys);
  const e = parseCreateEntryRequest(JSON.stringify(req.body));
  assert.deepEqual(
    e.body,
    expectedBody(req, 'publicKey', spkiDer(keys.publicKey), 'PKIX_ECDSA_P256_SHA_256'),
  );
});

test('a hashedrekord entry logs the JCS of its Entry, byte for byte, with a certificate', () => {
  const keys = p256();
  const ca = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const now = Date.now();
  const cert = signTbsSync(
    encodeTbs({
      serial: randomSerial(),
      sigAlg: 'ecdsa-sha256',
      issuerName: EMPTY_NAME,
      subjectName: EMPTY_NAME,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 600_000),
      spkiDer: spkiDer(keys.publicKey),
      extensions: [],
    }),
    'ecdsa-sha256',
    ca.privateKey,
  );
  const req = hashedRekordRequest(undefined, keys, { der: cert, certificate: true });
  // Unpadded URL-safe base64 in the request: the logged entry re-encodes it in standard base64.
  const body = req.body as { hashedRekordRequestV002: { digest: string } };
  body.hashedRekordRequestV002.digest = req.digest.toString('base64url');
  const e = parseCreateEntryRequest(JSON.stringify(body));
  assert.deepEqual(e.body, expectedBody(req, 'x509Certificate', cert, 'PKIX_ECDSA_P256_SHA_256'));
});
