import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { createOidcServer } from '../../src/oidc/dev-issuer.js';
import { getIdentityToken, NO_TOKEN_MESSAGE } from '../../src/oidc/providers.js';
import { isSigilError } from '../../src/errors/index.js';

test('token sources: flag, file, SIGSTORE_ID_TOKEN, Actions token request, none', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-prov-'));
  const issuer = await createOidcServer({
    dataDir: dir,
    port: 0,
    actionsRequestToken: 'req-secret',
    logLevel: 'silent',
  });
  try {
    const t1 = await issuer.mint({ sub: 'flag' });
    const t2 = await issuer.mint({ sub: 'env' });
    writeFileSync(join(dir, 'tok'), `${t1}\n`);
    assert.equal(await getIdentityToken({ token: t1, env: { SIGSTORE_ID_TOKEN: t2 } }), t1);
    assert.equal(await getIdentityToken({ tokenFile: join(dir, 'tok'), env: {} }), t1);
    assert.equal(await getIdentityToken({ env: { SIGSTORE_ID_TOKEN: t2 } }), t2);
    const actionsEnv = {
      ACTIONS_ID_TOKEN_REQUEST_URL: `${issuer.url}/actions/token?api-version=2.0`,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'req-secret',
    };
    const fromActions = await getIdentityToken({ env: actionsEnv });
    assert.equal(decodeJwt(fromActions).aud, 'sigstore');
    assert.equal(decodeJwt(await getIdentityToken({ env: actionsEnv, audience: 'other' })).aud, 'other');
    await assert.rejects(
      getIdentityToken({ env: { ...actionsEnv, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'wrong' } }),
      (e: unknown) => isSigilError(e, 'UNAUTHENTICATED'),
    );
    await assert.rejects(
      getIdentityToken({ env: {} }),
      (e: unknown) => isSigilError(e) && e.message === NO_TOKEN_MESSAGE,
    );
    await assert.rejects(getIdentityToken({ token: 'x'.repeat(100_000), env: {} }), (e: unknown) =>
      isSigilError(e, 'TOO_LARGE'),
    );
  } finally {
    await issuer.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('dev issuer HTTP: POST /token applies overrides, Actions endpoint needs a bearer token', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-prov-'));
  const issuer = await createOidcServer({ dataDir: dir, port: 0, logLevel: 'silent' });
  try {
    const res = await fetch(`${issuer.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sub: 'custom', run_id: '42', workflow: null }),
    });
    assert.equal(res.status, 200);
    const claims = decodeJwt(((await res.json()) as { token: string }).token);
    assert.equal(claims.sub, 'custom');
    assert.equal(claims.run_id, '42');
    assert.equal(claims.workflow, undefined);
    assert.equal(claims.iss, issuer.issuer);
    assert.ok((claims.exp as number) - Date.now() / 1000 > 500);
    const noAuth = await fetch(`${issuer.url}/actions/token?audience=sigstore`);
    assert.equal(noAuth.status, 401);
    const any = await fetch(`${issuer.url}/actions/token?audience=sigstore`, {
      headers: { authorization: 'Bearer x' },
    });
    assert.equal(any.status, 200);
    const disc = (await (await fetch(`${issuer.url}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    assert.equal(disc.issuer, issuer.issuer);
  } finally {
    await issuer.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
