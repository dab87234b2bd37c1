// Bundles verified per second: sigil's verifier vs @sigstore/verify 3.1.1, on the nine public
// Sigstore bundles repeated, in the same process. Prints one JSON object.
// Usage: npm run bench:verify [-- --seconds 3]
import { readFileSync, readdirSync } from 'node:fs';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { bundleFromJSON } from '@sigstore/bundle';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
import { createTrustMaterial, verifyBundle, type VerificationPolicy } from '../src/verify/index.js';

const DIR = process.env.SIGIL_PUBLIC_FIXTURES ?? '/work/shared/fixtures/public-sigstore/';
const secondsArg = process.argv.indexOf('--seconds');
const SECONDS = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 3;

const rootJson = JSON.parse(readFileSync(DIR + 'trusted_root.json', 'utf8'));
const bundles = readdirSync(DIR)
  .filter((f) => f.endsWith('.sigstore'))
  .map((f) => readFileSync(DIR + f, 'utf8'));

// Both sides start from the bundle JSON text each time (parse + verify), with the trust material
// built once, the same identity policy and thresholds.
const sigilTrust = createTrustMaterial(rootJson);
const policy: VerificationPolicy = {
  identities: [{ subject: 'brian@dehamer.com', issuer: 'https://github.com/login/oauth' }],
};
const sigil = (text: string): void => {
  verifyBundle(sigilTrust, text, policy, { tlogThreshold: 1, ctlogThreshold: 1 });
};
const official = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(rootJson)), {
  tlogThreshold: 1,
  ctlogThreshold: 1,
});
const officialPolicy = {
  subjectAlternativeName: 'brian@dehamer.com',
  extensions: { issuer: 'https://github.com/login/oauth' },
};
const sigstore = (text: string): void => {
  official.verify(toSignedEntity(bundleFromJSON(JSON.parse(text))), officialPolicy);
};

function run(fn: (t: string) => void, seconds: number): { verified: number; seconds: number; cpuUs: number } {
  for (const b of bundles) fn(b); // warm-up, and a correctness check: throws if any fails
  let n = 0;
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    for (const b of bundles) fn(b);
    n += bundles.length;
  }
  const cpu = process.cpuUsage(cpu0);
  const elapsed = (performance.now() - start) / 1000;
  return { verified: n, seconds: Number(elapsed.toFixed(3)), cpuUs: cpu.user + cpu.system };
}

// Alternate rounds so machine noise hits both sides alike.
const rounds = 2;
const totals = { sigil: { n: 0, s: 0, cpu: 0 }, sigstore: { n: 0, s: 0, cpu: 0 } };
for (let r = 0; r < rounds; r++) {
  const a = run(sigil, SECONDS / rounds);
  const b = run(sigstore, SECONDS / rounds);
  totals.sigil.n += a.verified;
  totals.sigil.s += a.seconds;
  totals.sigil.cpu += a.cpuUs;
  totals.sigstore.n += b.verified;
  totals.sigstore.s += b.seconds;
  totals.sigstore.cpu += b.cpuUs;
}
// CPU time per bundle is steadier than wall-clock rates on a shared machine.
const cpuUsPerBundle = (t: { n: number; cpu: number }): number => Math.round(t.cpu / t.n);
const sigilRate = totals.sigil.n / totals.sigil.s;
const sigstoreRate = totals.sigstore.n / totals.sigstore.s;
console.log(
  JSON.stringify(
    {
      benchmark: 'verify',
      bundles: bundles.length,
      node: process.version,
      sigil: {
        verified: totals.sigil.n,
        seconds: Number(totals.sigil.s.toFixed(3)),
        bundlesPerSecond: Math.round(sigilRate),
        cpuUsPerBundle: cpuUsPerBundle(totals.sigil),
      },
      sigstoreVerify: {
        version: '3.1.1',
        verified: totals.sigstore.n,
        seconds: Number(totals.sigstore.s.toFixed(3)),
        bundlesPerSecond: Math.round(sigstoreRate),
        cpuUsPerBundle: cpuUsPerBundle(totals.sigstore),
      },
      speedup: Number((sigilRate / sigstoreRate).toFixed(2)),
      cpuSpeedup: Number((cpuUsPerBundle(totals.sigstore) / cpuUsPerBundle(totals.sigil)).toFixed(2)),
      target: 2,
    },
    null,
    2,
  ),
);
