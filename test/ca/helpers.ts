import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOidcServer, type OidcServer } from '../../src/oidc/dev-issuer.js';
import { issuerFrom } from '../../src/oidc/config.js';
import { createCaServer, type CaServer } from '../../src/ca/server.js';

export interface Stack {
  dir: string;
  oidc: OidcServer;
  emailOidc: OidcServer;
  ca: CaServer;
  close(): Promise<void>;
}

/** A dev issuer (github-workflow), a second one configured as an email issuer, and a CA trusting both. */
export async function startStack(opts: { disableCt?: boolean } = {}): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-ca-'));
  const oidc = await createOidcServer({ dataDir: join(dir, 'oidc'), port: 0, logLevel: 'silent' });
  const emailOidc = await createOidcServer({
    dataDir: join(dir, 'oidc-email'),
    port: 0,
    alg: 'ES256',
    logLevel: 'silent',
  });
  const ca = await createCaServer({
    dataDir: join(dir, 'ca'),
    port: 0,
    logLevel: 'silent',
    oidc: {
      issuers: [
        issuerFrom({ issuerUrl: oidc.issuer, type: 'github-workflow' }),
        issuerFrom({ issuerUrl: emailOidc.issuer, type: 'email' }),
      ],
    },
    ...(opts.disableCt ? { disableCt: true } : {}),
  });
  return {
    dir,
    oidc,
    emailOidc,
    ca,
    async close() {
      await ca.close();
      await oidc.close();
      await emailOidc.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
