import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT, base64url } from 'jose';
import { createOidcServer, type OidcServer } from '../../src/oidc/dev-issuer.js';
import { createTokenVerifier, type TokenVerifier } from '../../src/oidc/verify.js';
import { issuerFrom, parseOidcConfig } from '../../src/oidc/config.js';
import { compileIssuerPattern } from '../../src/oidc/issuer-match.js';
import { isSigilError, type ErrorCode } from '../../src/errors/index.js';

let dir: string;
let issuer: OidcServer;
let verifier: TokenVerifier;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sigil-oidc-'));
  issuer = await createOidcServer({ dataDir: dir, port: 0, logLevel: 'silent' });
  verifier = createTokenVerifier({
    issuers: [
      issuerFrom({ issuerUrl: issuer.issuer, type: 'github-workflow' }),
      issuerFrom({ issuerUrl: `${issuer.issuer}/email`, type: 'email' }),
    ],
  });
});
after(async () => {
  await issuer.close();
  rmSync(dir, { recursive: true, force: true });
});

async function refused(token: string, code: ErrorCode | ErrorCode[], v = verifier): Promise<void> {
  const codes = Array.isArray(code) ? code : [code];
  await assert.rejects(v.verify(token), (e: unknown) => {
    assert.ok(isSigilError(e), `not a SigilError: ${String(e)}`);
    assert.ok(codes.includes(e.code), `got ${e.code}: ${e.message}`);
    return true;
  });
}

const nowS = () => Math.floor(Date.now() / 1000);

test('a dev-issuer token verifies into a github-workflow principal', async () => {
  const p = await verifier.verify(await issuer.mint());
  assert.equal(p.type, 'github-workflow');
  assert.equal(p.issuer, issuer.issuer);
  assert.equal(p.name, 'repo:org/repo:ref:refs/heads/main');
  assert.deepEqual(p.san, {
    kind: 'uri',
    value: 'https://github.com/org/repo/.github/workflows/CI-CD.yml@refs/heads/main',
  });
  assert.equal(statSync(join(dir, 'oidc-signing-key.pem')).mode & 0o777, 0o600);
});

test('time checks: expired, not yet valid, issued in the future', async () => {
  await refused(await issuer.mint({ exp: nowS() - 120 }), 'INVALID_TOKEN');
  await refused(await issuer.mint({ nbf: nowS() + 600 }), 'INVALID_TOKEN');
  await refused(await issuer.mint({ iat: nowS() + 600 }), 'INVALID_TOKEN');
  // within the skew is fine
  await verifier.verify(await issuer.mint({ nbf: nowS() + 5 }));
});

test('audience and issuer must match exactly', async () => {
  await refused(await issuer.mint({ aud: 'other' }), 'INVALID_TOKEN');
  await refused(await issuer.mint({ iss: 'https://evil.example' }), 'UNKNOWN_ISSUER');
  await refused(await issuer.mint({ iss: `${issuer.issuer}.evil.example` }), 'UNKNOWN_ISSUER');
  await refused(await issuer.mint({ iss: `${issuer.issuer}/` }), 'UNKNOWN_ISSUER');
  await refused(await issuer.mint({ iss: `https://evil.example/?u=${issuer.issuer}` }), 'UNKNOWN_ISSUER');
  await refused(await issuer.mint({ iss: issuer.issuer.slice(0, -1) }), 'UNKNOWN_ISSUER');
});

test('discovery issuer must equal the token issuer', async () => {
  const d = mkdtempSync(join(tmpdir(), 'sigil-oidc-mismatch-'));
  const other = await createOidcServer({
    dataDir: d,
    port: 0,
    publicUrl: 'http://issuer.invalid',
    logLevel: 'silent',
  });
  try {
    const v = createTokenVerifier({
      issuers: [issuerFrom({ issuerUrl: other.url, type: 'github-workflow' })],
    });
    await refused(await other.mint({ iss: other.url }), 'INVALID_TOKEN', v);
  } finally {
    await other.close();
    rmSync(d, { recursive: true, force: true });
  }
});

test('alg none and HS256 keyed with the public key are refused', async () => {
  const good = await issuer.mint();
  const [, payload] = good.split('.');
  const noneHeader = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }));
  await refused(`${noneHeader}.${payload}.`, 'INVALID_TOKEN');
  const jwks = (await (await fetch(`${issuer.url}/.well-known/jwks`)).json()) as { keys: { kid: string }[] };
  const kid = jwks.keys[0]!.kid;
  const pubPem = Buffer.from(JSON.stringify(jwks.keys[0]));
  const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
  const hs = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid }).sign(new Uint8Array(pubPem));
  await refused(hs, 'INVALID_TOKEN');
});

test('unknown kid and a foreign signature are refused', async () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const claims = JSON.parse(Buffer.from((await issuer.mint()).split('.')[1]!, 'base64url').toString());
  const unknownKid = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: 'no-such-kid' })
    .sign(privateKey);
  await refused(unknownKid, 'INVALID_TOKEN');
  const jwks = (await (await fetch(`${issuer.url}/.well-known/jwks`)).json()) as { keys: { kid: string }[] };
  const forged = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: jwks.keys[0]!.kid })
    .sign(privateKey);
  await refused(forged, 'INVALID_TOKEN');
});

test('size cap applies before parsing; malformed tokens refused', async () => {
  await refused('a'.repeat(10 * 1024 * 1024), 'TOO_LARGE');
  await refused('not-a-jwt', 'INVALID_TOKEN');
  await refused('a.b.c.d', 'INVALID_TOKEN');
  await refused('', 'UNAUTHENTICATED');
});

test('github-workflow tokens missing a required claim are refused', async () => {
  await refused(await issuer.mint({ job_workflow_sha: null }), 'INVALID_TOKEN');
});

test('email issuers require email_verified', async () => {
  const emailIssuerDir = mkdtempSync(join(tmpdir(), 'sigil-oidc-email-'));
  const emailIssuer = await createOidcServer({
    dataDir: emailIssuerDir,
    port: 0,
    alg: 'ES256',
    logLevel: 'silent',
  });
  try {
    const v = createTokenVerifier({
      issuers: [issuerFrom({ issuerUrl: emailIssuer.issuer, type: 'email' })],
    });
    const ok = await v.verify(
      await emailIssuer.mint({ sub: 'u1', email: 'dev@example.com', email_verified: true }),
    );
    assert.deepEqual(ok.san, { kind: 'email', value: 'dev@example.com' });
    assert.equal(ok.name, 'dev@example.com');
    await refused(
      await emailIssuer.mint({ email: 'dev@example.com', email_verified: false }),
      'INVALID_TOKEN',
      v,
    );
    await refused(await emailIssuer.mint({ email: 'dev@example.com' }), 'INVALID_TOKEN', v);
    await refused(
      await emailIssuer.mint({ email: 'not an email', email_verified: true }),
      'INVALID_TOKEN',
      v,
    );
  } finally {
    await emailIssuer.close();
    rmSync(emailIssuerDir, { recursive: true, force: true });
  }
});

test('wildcard patterns are anchored and match one label fragment per star', () => {
  const re = compileIssuerPattern('https://oidc.*.example.com/id/*');
  assert.ok(re.test('https://oidc.eu-1.example.com/id/abc_1'));
  assert.ok(!re.test('https://oidc.a.b.example.com/id/x'));
  assert.ok(!re.test('https://oidc.a.example.com/id/x/extra'));
  assert.ok(!re.test('xhttps://oidc.a.example.com/id/x'));
  assert.ok(!re.test('https://oidcXa.example.com/id/x'));
});

test('issuer config YAML parses and rejects bad entries', () => {
  const cfg = parseOidcConfig(`issuers:
  - issuerUrl: http://127.0.0.1:8080
    type: github-workflow
  - wildcardIssuerUrl: https://*.example.com
    type: email
    audience: custom
`);
  assert.equal(cfg.issuers[0]!.audience, 'sigstore');
  assert.equal(cfg.issuers[1]!.wildcard, true);
  assert.equal(cfg.issuers[1]!.audience, 'custom');
  assert.throws(() => parseOidcConfig('issuers: []'), /at least one/);
  assert.throws(() => parseOidcConfig('- issuerUrl: http://x\n  type: nope'), /type must be/);
  assert.throws(() => parseOidcConfig('- issuerUrl: ftp://x\n  type: email'), /http/);
  assert.throws(
    () => parseOidcConfig('- issuerUrl: http://x\n  wildcardIssuerUrl: http://*\n  type: email'),
    /exactly one/,
  );
  assert.throws(() => parseOidcConfig('- issuerUrl: http://x\n  type: spiffe'), /subjectDomain/);
});
