// Bundles verified per second by the current @sigstore/verify (4.x, Node 24), for bench/verify.ts.
// stdin: { seconds, cases: [{ bundle, trustedRoot (JSON texts), artifact (base64) | null, identity,
// issuer }] }; each bundle parsed from its JSON text every time, trust material built once.
// stdout: { version, verified, seconds, cpuUs }.
import { readFileSync } from 'node:fs';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { bundleFromJSON } from '@sigstore/bundle';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const { seconds, cases } = JSON.parse(input);
const verifiers = new Map();
const runs = cases.map((c) => {
  let v = verifiers.get(c.trustedRoot);
  if (!v) {
    v = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(JSON.parse(c.trustedRoot))));
    verifiers.set(c.trustedRoot, v);
  }
  const artifact = c.artifact === null ? undefined : Buffer.from(c.artifact, 'base64');
  const policy = { subjectAlternativeName: c.identity, extensions: { issuer: c.issuer } };
  return () => v.verify(toSignedEntity(bundleFromJSON(JSON.parse(c.bundle)), artifact), policy);
});
for (const r of runs) r(); // warm-up and a correctness check: throws if any fails
let n = 0;
const start = performance.now();
const cpu0 = process.cpuUsage();
while (performance.now() < start + seconds * 1000) {
  for (const r of runs) r();
  n += runs.length;
}
const cpu = process.cpuUsage(cpu0);
const version = JSON.parse(readFileSync('node_modules/@sigstore/verify/package.json', 'utf8')).version;
process.stdout.write(
  JSON.stringify({
    version,
    verified: n,
    seconds: (performance.now() - start) / 1000,
    cpuUs: cpu.user + cpu.system,
  }),
);
