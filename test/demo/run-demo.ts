import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

export interface DemoRun {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Runs `sigil demo ARGS` as `npm run demo` does (tsx src/cli/main.ts demo). */
export function runDemoCli(args: string[], timeoutMs = 120_000): Promise<DemoRun> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'demo', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
      env: { ...process.env, SIGIL_DATA_DIR: '', SIGSTORE_ID_TOKEN: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code, stdout, stderr, seconds: (performance.now() - started) / 1000 }),
    );
  });
}

/** The lines every successful demo prints, whatever the registry. */
export function assertExpectedOutcomes(r: DemoRun): void {
  assert.equal(r.code, 0, `demo failed:\n${r.stdout}\n${r.stderr}`);
  const out = r.stdout;
  assert.match(out, /✔ pod cart \(signed by CI-CD\.yml, cosign v3 bundle\): ADMITTED, as expected/);
  assert.match(out, /✔ pod shipping \(signed by CI-CD\.yml, legacy \.sig layout\): ADMITTED, as expected/);
  assert.match(
    out,
    /DSSE signature over the in-toto statement \(cosign v3 bundle, an OCI referrer\) naming sha256:/,
  );
  assert.match(
    out,
    /patch: replace \/spec\/containers\/0\/image → \S+\/shop\/rs-cart:v1@sha256:[0-9a-f]{64}/,
  );
  assert.match(
    out,
    /✔ pod payment \(never signed\): DENIED, as expected\n\s+reason: .*rs-payment:v1: .*no signatures found/,
  );
  assert.match(
    out,
    /✔ pod catalogue \(tag moved after signing\): DENIED, as expected\n\s+reason: .*rs-catalogue:v1: .*no signatures found/,
  );
  assert.match(
    out,
    /✔ pod ratings \(signed by \.github\/workflows\/nightly\.yml\): DENIED, as expected\n\s+reason: .*subject mismatch.*nightly\.yml/,
  );
  assert.match(
    out,
    /SubjectAltName:\s+https:\/\/github\.com\/org\/repo\/\.github\/workflows\/CI-CD\.yml@refs\/heads\/main/,
  );
  assert.match(out, /Validity:\s+\S+ → \S+ \(10 minutes\)/);
  assert.match(out, /log index:\s+\d+/);
  // The signing config selects the Rekor v2 log: no SET, the time from the RFC 3161 timestamp.
  assert.match(out, /Transparency log entry \(Rekor v2 log http:\/\/127\.0\.0\.1:\d+/);
  assert.match(out, /integrated time: none \(Rekor v2 signs no SET\)/);
  assert.match(out, /RFC 3161 timestamp \S+ by http\S+ \(inside the certificate's validity ✔\)/);
  assert.match(out, /inclusion proof verified ✔: leaf \d+ of a tree of \d+, root [0-9a-f]{64}/);
  assert.match(out, /checkpoint signed by the v2 log key \(origin 127\.0\.0\.1\) ✔/);
  assert.match(out, /DEMO PASSED: 5 of 5 admission outcomes as expected, trust chain verified/);
  assert.doesNotMatch(out, /✘/);
  assert.doesNotMatch(r.stderr, /FSTDEP|error/i);
  // The token never reaches the output.
  assert.doesNotMatch(out + r.stderr, /eyJ[A-Za-z0-9_-]{20,}\./);
}
