import 'reflect-metadata';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { SignJWT, decodeJwt } from 'jose';
import { createCaServer } from '../../src/ca/server.js';
import { issuerFrom } from '../../src/oidc/config.js';
import { createOidcServer } from '../../src/oidc/dev-issuer.js';
import { parseTrustedRoot } from '../../src/bundle/index.js';
import { parsePolicyText } from '../../src/admission/policy/index.js';
import { createAdmissionServer, type AdmissionServer } from '../../src/admission/server.js';
import { registryImageSource, SigstoreSignatureVerifier } from '../../src/admission/real-verifier.js';
import { startStack } from '../../src/demo/stack.js';
import { policyYaml } from '../../src/demo/policy.js';
import { RegistryClient, parseReference, pushImage, tinyImage } from '../../src/oci/index.js';
import { createSigning, resolveImage, signImage } from '../../src/sign/index.js';
import { pod, postJson as postHttps, review } from '../admission/helpers.js';
import { flakyProxy, tempDir, within, type ProxyMode } from './helpers.js';

const p256 = (): { privateKey: KeyObject; publicKey: KeyObject } =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' });

test('CA while the issuer JWKS is unreachable or hung: cached keys keep working, an unknown kid fails cleanly, nothing hangs', async (t) => {
  const dir = tempDir(t);
  let issuerUrl = '';
  let mode: ProxyMode = 'pass';
  const proxy = await flakyProxy(
    () => issuerUrl,
    () => mode,
  );
  t.after(() => proxy.close());
  const oidc = await createOidcServer({
    dataDir: join(dir, 'oidc'),
    port: 0,
    publicUrl: proxy.url,
    logLevel: 'silent',
  });
  issuerUrl = oidc.url;
  t.after(() => oidc.close());
  const FETCH_TIMEOUT = 1000;
  const ca = await createCaServer({
    dataDir: join(dir, 'ca'),
    port: 0,
    logLevel: 'silent',
    oidc: { issuers: [issuerFrom({ issuerUrl: proxy.url, type: 'github-workflow' })] },
    // Refresh on every unknown kid, so each one really goes to the (broken) issuer.
    tokenOptions: { jwksRefreshIntervalMs: 0, fetchTimeoutMs: FETCH_TIMEOUT },
  });
  t.after(() => ca.close());

  const request = async (token: string): Promise<{ status: number; code?: string; ms: number }> => {
    const keys = p256();
    const sub = String(decodeJwt(token).sub);
    const started = Date.now();
    const res = await within(
      FETCH_TIMEOUT * 5,
      fetch(`${ca.url}/api/v2/signingCert`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          credentials: { oidcIdentityToken: token },
          publicKeyRequest: {
            publicKey: {
              algorithm: 'ECDSA',
              content: keys.publicKey.export({ type: 'spki', format: 'pem' }),
            },
            proofOfPossession: sign('sha256', Buffer.from(sub), keys.privateKey).toString('base64'),
          },
        }),
      }),
      'signingCert',
    );
    const body = (await res.json()) as { code?: string };
    return { status: res.status, ms: Date.now() - started, ...(body.code ? { code: body.code } : {}) };
  };
  const rotated = async (): Promise<string> => {
    const claims = decodeJwt(await oidc.mint());
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'rotated-key', typ: 'JWT' })
      .sign(privateKey);
  };

  assert.equal(
    (await request(await oidc.mint())).status,
    200,
    'issuer up: certificate issued (keys now cached)',
  );
  for (const m of ['refuse', 'hang'] as const) {
    mode = m;
    const cached = await request(await oidc.mint());
    assert.equal(cached.status, 200, `issuer ${m}: a token signed by a cached key still gets a certificate`);
    const unknown = await Promise.all(Array.from({ length: 8 }, async () => request(await rotated())));
    for (const u of unknown) {
      assert.ok(
        (u.status >= 400 && u.status < 500) || u.status === 502 || u.status === 503,
        `issuer ${m}: unknown kid answered ${u.status} ${u.code}`,
      );
      assert.notEqual(u.status, 500);
      assert.ok(
        u.ms < FETCH_TIMEOUT * 4,
        `issuer ${m}: unknown kid decided in ${u.ms} ms (fetch timeout ${FETCH_TIMEOUT})`,
      );
    }
    t.diagnostic(
      `issuer ${m}: unknown kid → ${[...new Set(unknown.map((u) => `${u.status} ${u.code}`))].join(', ')}`,
    );
    // The failed refresh did not poison the cache.
    assert.equal(
      (await request(await oidc.mint())).status,
      200,
      `issuer ${m}: cached key works after a failed refresh`,
    );
  }
  mode = 'pass';
  const back = await request(await rotated());
  assert.equal(back.status, 401, 'issuer back: an unknown kid is an authentication failure (INVALID_TOKEN)');
  assert.equal(back.code, 'INVALID_TOKEN');
});

test('admission webhook while the registry hangs or drips, and with the log down: decisions within the timeout, fail closed, error ≠ failure', async (t) => {
  const dir = tempDir(t);
  const stack = await startStack({ dataDir: dir, registry: 'embedded' });
  t.after(() => stack.close());
  const behaviour = new Map<string, ProxyMode>(); // repository → mode for its signature reads
  const proxy = await flakyProxy(stack.registry!.url, (_method, path) => {
    for (const [repo, m] of behaviour)
      if (path.startsWith(`/v2/${repo}/`) && /sha256-[0-9a-f]{64}/.test(path)) return m;
    return 'pass';
  });
  t.after(() => proxy.close());
  const host = proxy.host;
  const client = new RegistryClient();
  const builder = (
    await createSigning({
      key: { kind: 'keyless', caUrl: stack.ca.url, tokens: { token: await stack.oidc.mint(), env: {} } },
      logUrl: stack.log.url,
    })
  ).builder;
  const pushSigned = async (repo: string, signed: boolean): Promise<void> => {
    const ref = parseReference(`${host}/${repo}:v1`);
    await pushImage(client, ref, tinyImage(repo));
    if (signed) await signImage({ client, image: await resolveImage(client, ref), builder });
  };
  for (const repo of ['org/good', 'org/after-log-down', 'org/hung', 'org/drip', 'org/refused'])
    await pushSigned(repo, true);
  await pushSigned('org/unsigned', false);

  const policies = parsePolicyText(
    policyYaml({ images: [`${host}/org/*`], subjectRegExp: '.*', issuer: stack.oidc.issuer }),
    'policy.yaml',
    { hasTrustedRoot: true },
  );
  const TIMEOUT = 1500;
  const make = async (failurePolicy: 'Fail' | 'Ignore'): Promise<AdmissionServer> => {
    const s = await createAdmissionServer({
      policies,
      source: registryImageSource(new RegistryClient({ timeoutMs: 30_000 })),
      verifier: new SigstoreSignatureVerifier(parseTrustedRoot(stack.trustedRoot)),
      port: 0,
      failurePolicy,
      timeoutMs: TIMEOUT,
      logLevel: 'silent',
    });
    t.after(() => s.close());
    return s;
  };
  const fail = await make('Fail');
  const ignore = await make('Ignore');
  const admit = async (s: AdmissionServer, repo: string) => {
    const started = Date.now();
    const body = review('Pod', pod(repo.replace(/\W/g, '-'), [`${host}/${repo}:v1`]));
    const r = await within(TIMEOUT * 4, postHttps(`${s.url}/mutate`, body, s.caPem!), `admission of ${repo}`);
    assert.equal(r.status, 200, r.text);
    const out = (
      r.body as { response: { allowed: boolean; status?: { message: string }; warnings?: string[] } }
    ).response;
    return { ...out, ms: Date.now() - started };
  };

  const good = await admit(fail, 'org/good');
  assert.equal(good.allowed, true, `sanity: a signed image is admitted (${good.status?.message})`);
  assert.equal((await admit(fail, 'org/unsigned')).allowed, false, 'sanity: an unsigned image is denied');

  // The log is not consulted at admission: proofs travel with the signature.
  await stack.log.close();
  const offline = await admit(fail, 'org/after-log-down');
  assert.equal(
    offline.allowed,
    true,
    `log down: a signed image is still admitted (${offline.status?.message})`,
  );

  behaviour.set('org/hung', 'hang');
  behaviour.set('org/drip', 'drip');
  behaviour.set('org/refused', 'refuse');
  for (const repo of ['org/hung', 'org/drip', 'org/refused']) {
    // While several hung requests are pending, a healthy image is still decided promptly.
    const pending = Array.from({ length: 4 }, () => admit(fail, repo));
    const healthy = await admit(ignore, 'org/good');
    assert.equal(healthy.allowed, true);
    const denied = await Promise.all(pending);
    for (const d of denied) {
      assert.equal(d.allowed, false, `${repo} under Fail: denied (fail closed)`);
      assert.ok(d.ms < TIMEOUT + 2000, `${repo}: decided in ${d.ms} ms with a ${TIMEOUT} ms budget`);
    }
    const waved = await admit(ignore, repo);
    assert.equal(
      waved.allowed,
      true,
      `${repo} under Ignore: an error (not a failure) is admitted with a warning`,
    );
    assert.match(waved.warnings?.join('\n') ?? '', /failurePolicy Ignore/);
    t.diagnostic(
      `${repo}: ${denied[0]!.status?.message.trim().split('\n').pop()} (${denied.map((d) => d.ms).join('/')} ms)`,
    );
  }
  // A verification failure is never waved through by Ignore.
  assert.equal((await admit(ignore, 'org/unsigned')).allowed, false, 'unsigned under Ignore: denied');
});
