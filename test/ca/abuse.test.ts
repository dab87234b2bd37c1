import 'reflect-metadata';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, webcrypto, type KeyObject } from 'node:crypto';
import { SignJWT, base64url, decodeJwt } from 'jose';
import * as x509 from '@peculiar/x509';
import { startStack, type Stack } from './helpers.js';

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack.close();
});

const SUB = 'repo:org/repo:ref:refs/heads/main';
const nowS = (): number => Math.floor(Date.now() / 1000);
const p256 = (): { privateKey: KeyObject; publicKey: KeyObject } =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' });

function keyRequest(
  keys: { privateKey: KeyObject; publicKey: KeyObject },
  signed = SUB,
  hash: string | null = 'sha256',
) {
  return {
    publicKey: { algorithm: 'ECDSA', content: keys.publicKey.export({ type: 'spki', format: 'pem' }) },
    proofOfPossession: sign(hash, Buffer.from(signed), keys.privateKey).toString('base64'),
  };
}

async function post(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${stack.ca.url}/api/v2/signingCert`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** A 4xx with a {code, message} body, no certificate, no stack, and nothing added to the CT log. */
async function refused(
  send: () => Promise<Response>,
  status: number | number[],
  code?: string,
): Promise<void> {
  const sizeBefore = stack.ca.ct!.log.latestTreeHead().size;
  const res = await send();
  const text = await res.text();
  const statuses = Array.isArray(status) ? status : [status];
  assert.ok(statuses.includes(res.status), `status ${res.status}: ${text.slice(0, 300)}`);
  assert.ok(!text.includes('BEGIN CERTIFICATE') && !text.includes('signedCertificate'), 'no certificate');
  assert.ok(!/\bat .+\.(ts|js):\d+/.test(text), 'no stack trace');
  if (res.status !== 431) {
    const body = JSON.parse(text) as { code: string; message: string };
    assert.equal(typeof body.message, 'string');
    if (code) assert.equal(body.code, code, body.message);
  }
  assert.equal(stack.ca.ct!.log.latestTreeHead().size, sizeBefore);
}

const withToken = (token: string, keys = p256()) => ({
  credentials: { oidcIdentityToken: token },
  publicKeyRequest: keyRequest(keys),
});

test('a good request is accepted (both token transports)', async () => {
  const token = await stack.oidc.mint();
  const res = await post(withToken(token));
  assert.equal(res.status, 200);
  const viaHeader = await post(
    { publicKeyRequest: keyRequest(p256()) },
    { authorization: `Bearer ${token}` },
  );
  assert.equal(viaHeader.status, 200);
  const body = (await viaHeader.json()) as {
    signedCertificateEmbeddedSct: { chain: { certificates: string[] } };
  };
  assert.equal(body.signedCertificateEmbeddedSct.chain.certificates.length, 3);
});

test('expired, not-yet-valid and wrong-audience tokens are refused', async () => {
  await refused(
    async () =>
      post(withToken(await stack.oidc.mint({ exp: nowS() - 300, iat: nowS() - 900, nbf: nowS() - 900 }))),
    401,
    'INVALID_TOKEN',
  );
  await refused(
    async () => post(withToken(await stack.oidc.mint({ nbf: nowS() + 600 }))),
    401,
    'INVALID_TOKEN',
  );
  await refused(
    async () => post(withToken(await stack.oidc.mint({ aud: 'not-sigstore' }))),
    401,
    'INVALID_TOKEN',
  );
});

test('unknown issuers, including look-alikes that contain or prefix an allowed one, are refused', async () => {
  const iss = stack.oidc.issuer;
  for (const bad of [
    'https://evil.example',
    `${iss}.evil.example`,
    `${iss}/evil`,
    `https://evil.example/${iss}`,
    iss.slice(0, -1),
  ]) {
    await refused(async () => post(withToken(await stack.oidc.mint({ iss: bad }))), 401, 'UNKNOWN_ISSUER');
  }
});

test('alg none, HS256 keyed with the issuer public key, unknown kid and a foreign key are refused', async () => {
  const good = await stack.oidc.mint();
  const claims = decodeJwt(good);
  const none = `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${good.split('.')[1]}.`;
  await refused(async () => post(withToken(none)), 401, 'INVALID_TOKEN');
  const jwks = (await (await fetch(`${stack.oidc.url}/.well-known/jwks`)).json()) as {
    keys: Record<string, string>[];
  };
  const jwk = jwks.keys[0]!;
  const pem = (await import('node:crypto'))
    .createPublicKey({ key: jwk, format: 'jwk' })
    .export({ type: 'spki', format: 'pem' });
  const hs = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', kid: jwk.kid! })
    .sign(Buffer.from(pem));
  await refused(async () => post(withToken(hs)), 401, 'INVALID_TOKEN');
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const unknownKid = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: 'unknown' })
    .sign(other);
  await refused(async () => post(withToken(unknownKid)), 401, 'INVALID_TOKEN');
  const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: jwk.kid! }).sign(other);
  await refused(async () => post(withToken(forged)), 401, 'INVALID_TOKEN');
});

test('email issuers: email_verified required; PoP must cover the email', async () => {
  const emailClaims = { sub: 'user-1', email: 'dev@example.com' };
  await refused(
    async () => post(withToken(await stack.emailOidc.mint({ ...emailClaims, email_verified: false }))),
    401,
    'INVALID_TOKEN',
  );
  const verified = await stack.emailOidc.mint({ ...emailClaims, email_verified: true });
  const keys = p256();
  await refused(
    () =>
      post({ credentials: { oidcIdentityToken: verified }, publicKeyRequest: keyRequest(keys, 'user-1') }),
    400,
    'INVALID_SIGNATURE',
  );
  const ok = await post({
    credentials: { oidcIdentityToken: verified },
    publicKeyRequest: keyRequest(keys, 'dev@example.com'),
  });
  assert.equal(ok.status, 200);
});

test('proof of possession over another subject, or by another key, is refused', async () => {
  const token = await stack.oidc.mint();
  const keys = p256();
  await refused(
    () =>
      post({
        credentials: { oidcIdentityToken: token },
        publicKeyRequest: keyRequest(keys, 'repo:other/repo:ref:refs/heads/main'),
      }),
    400,
    'INVALID_SIGNATURE',
  );
  const mixed = { ...keyRequest(keys), proofOfPossession: keyRequest(p256()).proofOfPossession };
  await refused(
    () => post({ credentials: { oidcIdentityToken: token }, publicKeyRequest: mixed }),
    400,
    'INVALID_SIGNATURE',
  );
});

test('a 10 MB token is refused before parsing (body and header)', async () => {
  const huge = `eyJhbGciOiJSUzI1NiJ9.${'A'.repeat(10 * 1024 * 1024)}.x`;
  await refused(async () => post(withToken(huge)), 413);
  await refused(
    () =>
      post({ publicKeyRequest: keyRequest(p256()) }, { authorization: `Bearer ${huge.slice(0, 40_000)}` }),
    [413, 431],
  );
});

test('weak keys are refused: RSA 1024, secp256k1', async () => {
  const token = await stack.oidc.mint();
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
  await refused(
    () => post({ credentials: { oidcIdentityToken: token }, publicKeyRequest: keyRequest(rsa) }),
    400,
    'WEAK_KEY',
  );
  const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
  await refused(
    () => post({ credentials: { oidcIdentityToken: token }, publicKeyRequest: keyRequest(k1) }),
    400,
    'WEAK_KEY',
  );
  const garbage = {
    publicKey: { content: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n' },
    proofOfPossession: 'AAAA',
  };
  await refused(
    () => post({ credentials: { oidcIdentityToken: token }, publicKeyRequest: garbage }),
    400,
    'INVALID_KEY',
  );
});

test('CSRs: a valid one is accepted; malformed, badly signed or weak ones are refused', async () => {
  const token = await stack.oidc.mint();
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    { name: 'CN=ignored', keys, signingAlgorithm: alg },
    webcrypto as unknown as Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[1],
  );
  const csrB64 = Buffer.from(csr.toString('pem')).toString('base64');
  const ok = await post({ credentials: { oidcIdentityToken: token }, certificateSigningRequest: csrB64 });
  assert.equal(ok.status, 200, await ok.clone().text());
  const leafPem = (
    (await ok.json()) as { signedCertificateEmbeddedSct: { chain: { certificates: string[] } } }
  ).signedCertificateEmbeddedSct.chain.certificates[0]!;
  const leaf = new x509.X509Certificate(leafPem);
  assert.equal(leaf.subject, '', 'CSR subject ignored');
  assert.deepEqual(Buffer.from(leaf.publicKey.rawData), Buffer.from(csr.publicKey.rawData));

  await refused(
    () =>
      post({
        credentials: { oidcIdentityToken: token },
        certificateSigningRequest: Buffer.from('not a csr').toString('base64'),
      }),
    400,
    'INVALID_CSR',
  );
  await refused(
    () => post({ credentials: { oidcIdentityToken: token }, certificateSigningRequest: '!!!' }),
    400,
    'INVALID_CSR',
  );
  const der = Buffer.from(csr.rawData);
  der[der.length - 5]! ^= 0xff;
  await refused(
    () =>
      post({ credentials: { oidcIdentityToken: token }, certificateSigningRequest: der.toString('base64') }),
    400,
    'INVALID_CSR',
  );
  const rsaAlg = {
    name: 'RSASSA-PKCS1-v1_5',
    modulusLength: 1024,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: 'SHA-256',
  };
  const rsaKeys = (await webcrypto.subtle.generateKey(rsaAlg, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const weakCsr = await x509.Pkcs10CertificateRequestGenerator.create(
    { name: 'CN=x', keys: rsaKeys, signingAlgorithm: rsaAlg },
    webcrypto as unknown as Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[1],
  );
  await refused(
    () =>
      post({
        credentials: { oidcIdentityToken: token },
        certificateSigningRequest: Buffer.from(weakCsr.rawData).toString('base64'),
      }),
    400,
    'WEAK_KEY',
  );
});

test('malformed requests get 4xx JSON', async () => {
  const token = await stack.oidc.mint();
  await refused(async () => post('{"credentials":'), 400);
  await refused(async () => post([]), 400);
  await refused(async () => post({ publicKeyRequest: keyRequest(p256()) }), 401, 'UNAUTHENTICATED');
  await refused(async () => post({ credentials: { oidcIdentityToken: token } }), 400, 'INVALID_INPUT');
  await refused(
    () =>
      post({ credentials: { oidcIdentityToken: token }, publicKeyRequest: { publicKey: { content: 5 } } }),
    400,
  );
  await refused(
    () => post({ credentials: { oidcIdentityToken: 'a.b.c' }, publicKeyRequest: keyRequest(p256()) }),
    401,
  );
});
