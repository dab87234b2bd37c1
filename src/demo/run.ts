import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AdmissionServer } from '../admission/server.js';
import { RegistryClient, parseReference, pushImage, readImageSignatures, tinyImage } from '../oci/index.js';
import { createTrustMaterial, loadTimestampSupport } from '../verify/index.js';
import { verifyImageSignatures } from '../sign/image-verify.js';
import { podReview, sendReview, type AdmissionAnswer } from './kubernetes.js';
import { CI_WORKFLOW, DEMO_REPOSITORY, OTHER_WORKFLOW, SUBJECT_REGEXP, demoPolicyYaml } from './policy.js';
import { startAdmission, startStack, type Stack } from './stack.js';
import { logEntryLines } from './log-entry.js';
import type { RegistryChoice } from './registry/index.js';

export interface DemoOptions {
  /** Keep data here (default: a temporary directory, removed at the end). */
  dataDir?: string;
  registry: RegistryChoice;
  /** Where output lines go (default stdout). */
  write?: (text: string) => void;
  /** Leave the stack running after the demo (the caller closes it). */
  keepRunning?: boolean;
  /** The CLI's entry point (`main` of src/cli), handed in so the demo signs as a CI step would. */
  cli: CliEntry;
}

/** Runs one CLI command in the world it is given; resolves to its exit code. */
export type CliEntry = (
  argv: string[],
  io: { env: Record<string, string>; stderr: { write(text: string): unknown } },
) => Promise<number>;

export interface DemoOutcome {
  pod: string;
  image: string;
  expected: 'admitted' | 'denied';
  answer: AdmissionAnswer;
  ok: boolean;
}

export interface DemoResult {
  ok: boolean;
  outcomes: DemoOutcome[];
  seconds: number;
  stack?: Stack;
  admission?: AdmissionServer;
  close(): Promise<void>;
}

/**
 * Runs `sigil sign --yes IMAGE` through the CLI's own entry point, as a CI step would, with the
 * runner's environment handed to it; returns what it printed. In-process: a second Node process
 * would spend seconds compiling the CLI again.
 */
async function runSign(
  cli: CliEntry,
  image: string,
  env: Record<string, string>,
  extra: string[] = [],
): Promise<string[]> {
  let out = '';
  const stderr = {
    write: (text: string): boolean => {
      out += text;
      return true;
    },
  };
  const code = await cli(['sign', '--yes', ...extra, image], { env, stderr });
  const lines = out.split('\n').filter((l) => l.trim() !== '');
  if (code !== 0) throw new Error(`sigil sign exited with ${code}:\n${lines.join('\n')}`);
  return lines;
}

/** The environment of a CI runner of this stack: no ambient SIGIL_/token variables from the caller. */
function runnerEnv(stack: Stack, extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k.startsWith('SIGIL_') || k.startsWith('ACTIONS_') || k === 'SIGSTORE_ID_TOKEN')
      continue;
    env[k] = v;
  }
  return {
    ...env,
    SIGIL_CA_URL: stack.ca.url,
    SIGIL_LOG_URL: stack.log.url,
    SIGIL_DATA_DIR: stack.dataDir,
    ...extra,
  };
}

/** The deny reason of a Kyverno-shaped message: its last non-empty line, trimmed. */
export function denyReason(message: string): string {
  const lines = message
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return lines[lines.length - 1] ?? '(no message)';
}

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const write = opts.write ?? ((t: string) => void process.stdout.write(t));
  const say = (line = ''): void => write(`${line}\n`);
  const started = performance.now();
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'sigil-demo-'));
  let stack: Stack | undefined;
  let admission: AdmissionServer | undefined;
  const close = async (): Promise<void> => {
    await admission?.close().catch(() => undefined);
    await stack?.close();
    if (ownDir) rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    say('sigil demo: keyless signing in CI, verification at Kubernetes admission (seed §4–§8)');
    say('');
    say('1. Starting the stack on loopback');
    stack = await startStack({ dataDir, registry: opts.registry });
    const registry = stack.registry!;
    const host = registry.host;
    const policyYaml = demoPolicyYaml(host, stack.oidc.issuer, stack.log.url);
    writeFileSync(join(dataDir, 'policy.yaml'), policyYaml);
    admission = await startAdmission(stack, policyYaml);
    say(`   dev OIDC issuer      ${stack.oidc.url}  (GitHub-Actions-shaped tokens)`);
    say(`   CA (Fulcio v2 + CT)  ${stack.ca.url}`);
    say(`   transparency log     ${stack.log.url}  (Rekor v1; explorer page at /)`);
    say(`   Rekor v2 log         ${stack.logV2.url}  (tlog-tiles; the signing config selects it)`);
    say(`   timestamp authority  ${stack.tsa.timestampUrl}  (RFC 3161; signatures are timestamped)`);
    say(
      `   OCI registry         ${registry.url}  (${registry.kind === 'embedded' ? "sigil's embedded registry" : "Debian's docker-registry"})`,
    );
    say(
      `   admission webhook    ${admission.url}  (HTTPS, Kyverno ClusterPolicy ${join(dataDir, 'policy.yaml')})`,
    );
    say(`   data directory       ${dataDir}`);

    say('');
    say('2. Pushing tiny images');
    const client = new RegistryClient();
    const push = async (name: string, seed: string): Promise<string> => {
      const digest = await pushImage(client, parseReference(`${host}/shop/${name}`), tinyImage(seed));
      say(`   pushed ${host}/shop/${name}  →  ${digest}`);
      return digest;
    };
    const cart = await push('rs-cart:v1', 'cart v1');
    await push('rs-payment:v1', 'payment v1');
    const catalogue = await push('rs-catalogue:v1', 'catalogue v1');
    const ratings = await push('rs-ratings:v1', 'ratings v1');
    const shipping = await push('rs-shipping:v1', 'shipping v1');

    say('');
    say(`3. The CI job (${DEMO_REPOSITORY}, ${CI_WORKFLOW}, permissions: id-token: write) signs by digest`);
    say(`   token: GET ${stack.actionsRequestUrl}?audience=sigstore with the runner's request token`);
    const ciEnv = runnerEnv(stack, {
      ACTIONS_ID_TOKEN_REQUEST_URL: stack.actionsRequestUrl,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: stack.actionsRequestToken,
    });
    for (const [name, digest] of [
      ['rs-cart', cart],
      ['rs-catalogue', catalogue],
    ] as const) {
      const image = `${host}/shop/${name}@${digest}`;
      say(`   $ sigil sign --yes ${image}`);
      for (const l of await runSign(opts.cli, image, ciEnv)) say(`     │ ${l}`);
    }
    say('   An older pipeline step still writes the pre-v3 cosign layout (sha256-<hex>.sig):');
    const shippingImage = `${host}/shop/rs-shipping@${shipping}`;
    say(`   $ sigil sign --yes --legacy-layout ${shippingImage}`);
    for (const l of await runSign(opts.cli, shippingImage, ciEnv, ['--legacy-layout'])) say(`     │ ${l}`);
    say(`   Another workflow (${OTHER_WORKFLOW}) of the same repository signs rs-ratings:`);
    const nightlyRef = `${DEMO_REPOSITORY}/${OTHER_WORKFLOW}@refs/heads/main`;
    const nightlyToken = await stack.oidc.mint({
      job_workflow_ref: nightlyRef,
      workflow_ref: nightlyRef,
      workflow: 'nightly',
    });
    const ratingsImage = `${host}/shop/rs-ratings@${ratings}`;
    say(`   $ sigil sign --yes ${ratingsImage}`);
    for (const l of await runSign(
      opts.cli,
      ratingsImage,
      runnerEnv(stack, { SIGSTORE_ID_TOKEN: nightlyToken }),
    ))
      say(`     │ ${l}`);
    say('   Someone with push access moves the tag rs-catalogue:v1 to other content after signing:');
    await push('rs-catalogue:v1', 'catalogue v1 with a backdoor');

    say('');
    say('4. Kubernetes asks the admission webhook about five pods (AdmissionReview over HTTPS, /mutate)');
    const cases = (
      [
        ['cart', 'admitted', 'signed by CI-CD.yml, cosign v3 bundle'],
        ['shipping', 'admitted', 'signed by CI-CD.yml, legacy .sig layout'],
        ['payment', 'denied', 'never signed'],
        ['catalogue', 'denied', 'tag moved after signing'],
        ['ratings', 'denied', `signed by ${OTHER_WORKFLOW}`],
      ] as const
    ).map(([pod, expected, why]) => ({ pod, image: `${host}/shop/rs-${pod}:v1`, expected, why }));
    const outcomes: DemoOutcome[] = [];
    for (const c of cases) {
      const answer = await sendReview(`${admission.url}/mutate`, admission.caPem!, podReview(c.pod, c.image));
      const got = answer.allowed ? 'admitted' : 'denied';
      const ok = got === c.expected;
      outcomes.push({ pod: c.pod, image: c.image, expected: c.expected, answer, ok });
      say(
        `   ${ok ? '✔' : '✘'} pod ${c.pod} (${c.why}): ${got.toUpperCase()}${ok ? ', as expected' : `, but ${c.expected} was expected`}`,
      );
      if (!answer.allowed) say(`       reason: ${denyReason(answer.message)}`);
      for (const p of answer.patch) say(`       patch: ${p.op} ${p.path} → ${String(p.value)}`);
    }

    say('');
    say('5. The trust chain of the admitted image (seed §8), every link checked again here');
    const chainOk = await printTrustChain(stack, client, `${host}/shop/rs-cart@${cart}`, say);

    const ok = chainOk && outcomes.every((o) => o.ok);
    const seconds = (performance.now() - started) / 1000;
    say('');
    say(
      ok
        ? `DEMO PASSED: ${outcomes.length} of ${outcomes.length} admission outcomes as expected, trust chain verified (${seconds.toFixed(1)} s).`
        : `DEMO FAILED: ${outcomes.filter((o) => !o.ok).length} unexpected outcome(s)${chainOk ? '' : ', trust chain not verified'}.`,
    );
    if (opts.keepRunning) {
      say(`The stack keeps running: browse the log at ${stack.log.url}/ ; Ctrl-C stops it.`);
      return { ok, outcomes, seconds, stack, admission, close };
    }
    await close();
    return { ok, outcomes, seconds, close: async () => undefined };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Verifies the image's signatures like the webhook, re-verifies its log entry, and prints seed §8 with real values. */
async function printTrustChain(
  stack: Stack,
  client: RegistryClient,
  image: string,
  say: (l?: string) => void,
): Promise<boolean> {
  const ref = parseReference(image);
  const trust = createTrustMaterial(stack.trustedRoot);
  const sigs = await readImageSignatures(client, ref);
  await loadTimestampSupport();
  const verified = verifyImageSignatures(
    trust,
    ref.digest!,
    sigs,
    {
      identities: [{ subjectRegExp: SUBJECT_REGEXP, issuer: stack.oidc.issuer }],
    },
    {},
  );
  const r = (verified.bundles[0] ?? verified.legacy[0])!.result;
  const what = verified.bundles[0]
    ? `DSSE signature over the in-toto statement (cosign v3 bundle, an OCI referrer) naming`
    : 'signature over the simple-signing payload naming';
  const log = await logEntryLines(stack, trust, r, verified.bundles[0]?.json);
  const cert = r.certificate!;
  const id = r.identity!;
  const minutes = Math.round((Date.parse(cert.notAfter) - Date.parse(cert.notBefore)) / 60_000);
  const mark = (b: boolean | undefined): string => (b ? '✔' : '✘');

  say(`   Image: ${image}`);
  say('          ← signed by →');
  say(`   Ephemeral key pair (ECDSA P-256, in memory only, discarded after signing)`);
  say(`     key ID (SHA-256 of the public key): ${r.keyId}`);
  say(`     ${what} ${ref.digest} ${mark(r.checks.includes('signature'))}`);
  say('          ← certified by →');
  say('   Certificate from the sigil CA');
  say(`     SubjectAltName:  ${id.subjectAlternativeNames.join(', ')}`);
  say(`     OIDC issuer:     ${id.issuer ?? '(none)'}`);
  say(`     Validity:        ${cert.notBefore} → ${cert.notAfter} (${minutes} minutes)`);
  say(`     Serial:          ${cert.serialNumber}`);
  say(
    `     Chain to the CA root in trusted_root.json ${mark(r.checks.includes('certificate-chain'))}   SCT from the CA's CT log ${mark(r.ctlogs.length > 0)}`,
  );
  say('          ← issued because →');
  say('   OIDC token (JWT signed by the dev issuer, fetched with the Actions token-request protocol)');
  say(`     sub: ${id.extensions.tokenSubject ?? '(not recorded)'}`);
  say(`     iss: ${id.issuer ?? '(none)'}`);
  say(`     workflow: ${id.extensions.buildConfigURI ?? id.extensions.githubWorkflowRef ?? ''}`);
  say('          ← permanently recorded in →');
  for (const l of log.lines) say(`   ${l}`);
  say('          ← verified by →');
  say('   sigil admission webhook (Kyverno ClusterPolicy verify-robot-shop-images)');
  say(`     subjectRegExp ${SUBJECT_REGEXP} ${mark(r.checks.includes('identity'))}`);
  say(`     issuer ${stack.oidc.issuer} ${mark(id.issuer === stack.oidc.issuer)}`);
  return log.ok && r.checks.includes('identity') && r.ctlogs.length > 0;
}
