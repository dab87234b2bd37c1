import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spkiDer } from '../../src/crypto/index.js';
import { loadOrCreateCa, type CaCurve, type CaMaterial } from '../../src/ca/keys.js';
import { createCertificateIssuer, type IssuedCertificate } from '../../src/ca/issue.js';
import { devClaims } from '../../src/oidc/dev-claims.js';
import { issuerFrom } from '../../src/oidc/config.js';
import { principalFromClaims } from '../../src/oidc/principal.js';

/** A Fulcio-profile leaf (github-workflow identity, fresh P-256 key) from a new CA of ours. */
export async function issueFulcioLeaf(curve: CaCurve = 'P-384'): Promise<{
  ca: CaMaterial;
  issued: IssuedCertificate;
  keys: { privateKey: KeyObject; publicKey: KeyObject };
}> {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-our-ca-'));
  try {
    const ca = await loadOrCreateCa(dir, curve);
    const principal = principalFromClaims(
      devClaims('https://issuer.example', 'sigstore'),
      issuerFrom({ issuerUrl: 'https://issuer.example', type: 'github-workflow' }),
    );
    const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const issued = await createCertificateIssuer(ca).issue(principal, spkiDer(keys.publicKey));
    return { ca, issued, keys };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
