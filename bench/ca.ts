// Certificate issuance throughput: raw P-256 signing, issuance without and with the CT step
// (precertificate + durable CT append + SCT + final certificate), and the HTTP path with token
// and proof-of-possession checks. Prints JSON. Usage: npm run bench:ca [-- seconds]
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateCa, loadOrCreateKey, CA_FILES } from '../src/ca/keys.js';
import { createCertificateIssuer, type CertificateIssuer } from '../src/ca/issue.js';
import { createCtLog } from '../src/ca/ct/log.js';
import { createCaServer } from '../src/ca/server.js';
import { createOidcServer } from '../src/oidc/dev-issuer.js';
import { devClaims } from '../src/oidc/dev-claims.js';
import { issuerFrom } from '../src/oidc/config.js';
import { principalFromClaims } from '../src/oidc/principal.js';

const seconds = Number(process.argv[2] ?? 3);
const CONCURRENCY = 512;

function rate(n: number, ms: number): number {
  return Math.round((n / ms) * 1000);
}

function rawSignRate(key: KeyObject): number {
  const data = Buffer.alloc(700, 7);
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < seconds * 1000) {
    sign('sha256', data, key);
    n++;
  }
  return rate(n, performance.now() - start);
}

async function issueRate(issuer: CertificateIssuer, keys: Buffer[]): Promise<number> {
  const principal = principalFromClaims(
    devClaims('https://issuer.example', 'sigstore'),
    issuerFrom({ issuerUrl: 'https://issuer.example', type: 'github-workflow' }),
  );
  let n = 0;
  const deadline = performance.now() + seconds * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      while (performance.now() < deadline) {
        await issuer.issue(principal, keys[(n + w) % keys.length]!);
        n++;
      }
    }),
  );
  return rate(n, performance.now() - start);
}

async function httpRate(dir: string): Promise<number> {
  const oidc = await createOidcServer({ dataDir: join(dir, 'oidc'), port: 0, logLevel: 'silent' });
  const ca = await createCaServer({
    dataDir: join(dir, 'ca-http'),
    port: 0,
    logLevel: 'silent',
    oidc: { issuers: [issuerFrom({ issuerUrl: oidc.issuer, type: 'github-workflow' })] },
  });
  const token = await oidc.mint();
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const body = JSON.stringify({
    credentials: { oidcIdentityToken: token },
    publicKeyRequest: {
      publicKey: { algorithm: 'ECDSA', content: publicKey.export({ type: 'spki', format: 'pem' }) },
      proofOfPossession: sign(
        'sha256',
        Buffer.from('repo:org/repo:ref:refs/heads/main'),
        privateKey,
      ).toString('base64'),
    },
  });
  let n = 0;
  const deadline = performance.now() + seconds * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (performance.now() < deadline) {
        const res = await fetch(`${ca.url}/api/v2/signingCert`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        if (res.status !== 200) throw new Error(`status ${res.status}`);
        await res.arrayBuffer();
        n++;
      }
    }),
  );
  const r = rate(n, performance.now() - start);
  await ca.close();
  await oidc.close();
  return r;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-bench-ca-'));
  try {
    const ca = await loadOrCreateCa(dir, 'P-256');
    const keys = Array.from({ length: 64 }, () =>
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }),
    );
    const rawP256SignPerSec = rawSignRate(ca.intermediateKey);
    const withoutCt = await issueRate(createCertificateIssuer(ca), keys);
    const ct = await createCtLog({
      dataDir: dir,
      key: loadOrCreateKey(join(dir, CA_FILES.ctKey)),
      acceptedRoots: [ca.rootDer],
    });
    const withCt = await issueRate(createCertificateIssuer(ca, ct), keys);
    const ctStats = ct.log.stats();
    await ct.close();
    const http = await httpRate(dir);
    process.stdout.write(
      `${JSON.stringify(
        {
          benchmark: 'ca',
          seconds,
          concurrency: CONCURRENCY,
          rawP256SignPerSec,
          certificatesPerSecWithoutCt: withoutCt,
          certificatesPerSecWithCt: withCt,
          httpSigningCertPerSecWithCt: http,
          ctCommits: ctStats.commits,
          ctLargestBatch: ctStats.largestBatch,
          signaturesPerCertificateWithCt: 3,
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
