import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, exportJWK, calculateJwkThumbprint, type JWK } from 'jose';
import type { FastifyInstance } from 'fastify';
import { createApp, listen } from '../server/index.js';
import { SigilError } from '../errors/index.js';
import { DEFAULT_AUDIENCE } from './config.js';
import { devClaims } from './dev-claims.js';

export const DEV_ISSUER_KEY_FILE = 'oidc-signing-key.pem';
const MAX_OVERRIDE_BODY = 64 * 1024;

export interface OidcServerConfig {
  /** Directory holding the signing key (PKCS#8 PEM, mode 0600), created if absent. */
  dataDir: string;
  host?: string;
  port: number;
  /** Issuer URL to put in tokens and discovery (default: the listening URL). */
  publicUrl?: string;
  /** When set, the Actions token-request endpoint accepts only this bearer token. */
  actionsRequestToken?: string;
  /** Token signing algorithm (default RS256, like GitHub). */
  alg?: 'RS256' | 'ES256';
  logLevel?: string;
  /** PEM serving certificate (chain) and key: HTTPS instead of HTTP. */
  tls?: { cert: string; key: string };
}

export interface OidcServer {
  /** The listening base URL. */
  url: string;
  /** The issuer URL (`iss`). */
  issuer: string;
  /** Mints a token in-process (same as POST /token). */
  mint(overrides?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

/**
 * The dev OIDC issuer: discovery, JWKS, `POST /token` (claim overrides → `{token}`) and the
 * GitHub Actions token-request protocol (`GET /actions/token?audience=` → `{value}`).
 */
export async function createOidcServer(config: OidcServerConfig): Promise<OidcServer> {
  const alg = config.alg ?? 'RS256';
  const privateKey = loadOrCreateKey(config.dataDir, alg);
  const jwk: JWK = { ...(await exportJWK(createPublicKey(privateKey))), alg, use: 'sig' };
  jwk.kid = await calculateJwkThumbprint(jwk);
  const app = createApp({
    logLevel: config.logLevel ?? 'warn',
    bodyLimit: MAX_OVERRIDE_BODY,
    ...(config.tls ? { https: config.tls } : {}),
  });
  let issuer = config.publicUrl?.replace(/\/$/, '') ?? '';

  const mint = async (overrides: Record<string, unknown> = {}): Promise<string> => {
    const claims = devClaims(issuer, DEFAULT_AUDIENCE, overrides);
    return new SignJWT(claims)
      .setProtectedHeader({ alg, kid: jwk.kid as string, typ: 'JWT' })
      .sign(privateKey);
  };
  routes(app, () => issuer, jwk, mint, config.actionsRequestToken);

  const url = await listen(app, config.port, config.host ?? '127.0.0.1');
  if (!issuer) issuer = url;
  return { url, issuer, mint, close: () => app.close() };
}

function routes(
  app: FastifyInstance,
  issuer: () => string,
  jwk: JWK,
  mint: (o?: Record<string, unknown>) => Promise<string>,
  requestToken: string | undefined,
): void {
  app.get('/.well-known/openid-configuration', async () => ({
    issuer: issuer(),
    jwks_uri: `${issuer()}/.well-known/jwks`,
    token_endpoint: `${issuer()}/token`,
    response_types_supported: ['id_token'],
    subject_types_supported: ['public', 'pairwise'],
    id_token_signing_alg_values_supported: [jwk.alg],
    claims_supported: [
      'sub',
      'aud',
      'exp',
      'iat',
      'iss',
      'jti',
      'nbf',
      'ref',
      'repository',
      'sha',
      'workflow',
    ],
    scopes_supported: ['openid'],
  }));
  app.get('/.well-known/jwks', async () => ({ keys: [jwk] }));
  app.post('/token', async (req) => {
    const body = req.body ?? {};
    if (typeof body !== 'object' || Array.isArray(body)) {
      throw new SigilError('INVALID_INPUT', 'body must be a JSON object of claim overrides');
    }
    return { token: await mint(body as Record<string, unknown>) };
  });
  app.get('/actions/token', async (req) => {
    const auth = req.headers.authorization ?? '';
    const given = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    if (!given) throw new SigilError('UNAUTHENTICATED', 'missing bearer request token');
    if (requestToken !== undefined && !sameString(given, requestToken)) {
      throw new SigilError('UNAUTHENTICATED', 'request token is not accepted');
    }
    const audience = (req.query as Record<string, unknown>).audience;
    const overrides = typeof audience === 'string' && audience !== '' ? { aud: audience } : {};
    return { value: await mint(overrides) };
  });
}

function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function loadOrCreateKey(dataDir: string, alg: 'RS256' | 'ES256'): KeyObject {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, alg === 'RS256' ? DEV_ISSUER_KEY_FILE : `es256-${DEV_ISSUER_KEY_FILE}`);
  if (existsSync(file)) return createPrivateKey(readFileSync(file, 'utf8'));
  const { privateKey } =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return privateKey;
}
