// The composite action's signing step (action/action.yml), run with bash as a runner would, against a started stack.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { startStack, type Stack } from '../../src/demo/stack.js';
import {
  RegistryClient,
  parseReference,
  pushImage,
  readBundleReferrers,
  readSignatures,
  tinyImage,
} from '../../src/oci/index.js';

interface Step {
  name: string;
  run?: string;
  env?: Record<string, string>;
}
const action = parse(readFileSync('action/action.yml', 'utf8')) as {
  inputs: Record<string, unknown>;
  runs: { using: string; steps: Step[] };
};
const signStep = action.runs.steps.find((s) => s.name.startsWith('Sign'))!;

let dir: string;
let stack: Stack;
let digest: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sigil-action-'));
  stack = await startStack({ dataDir: dir, registry: 'embedded' });
  digest = await pushImage(
    new RegistryClient(),
    parseReference(`${stack.registry!.host}/ci/app:v1`),
    tinyImage('action app'),
  );
});
after(async () => {
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

function runStep(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k, v]) =>
        v !== undefined && !k.startsWith('SIGIL_') && !k.startsWith('ACTIONS_') && k !== 'SIGSTORE_ID_TOKEN',
    ),
  ) as Record<string, string>;
  return new Promise((res, rej) => {
    const child = spawn('bash', ['-c', signStep.run!], {
      env: { ...base, SIGIL_BIN: resolve('bin/sigil.js'), ...env },
      timeout: 60_000,
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.on('error', rej);
    child.on('close', (code) => res({ code, out }));
  });
}

test('the action is composite with the inputs image, digest, fulcio-url and rekor-url', () => {
  assert.equal(action.runs.using, 'composite');
  for (const i of ['image', 'digest', 'fulcio-url', 'rekor-url']) assert.ok(i in action.inputs, i);
  assert.deepEqual(Object.keys(signStep.env!).sort(), [
    'SIGIL_BIN',
    'SIGIL_CA_URL',
    'SIGIL_DIGEST',
    'SIGIL_IMAGE',
    'SIGIL_LAYOUT',
    'SIGIL_LOG_URL',
  ]);
  assert.doesNotMatch(
    signStep.run!,
    /\$\{\{/,
    'inputs are passed through env, never interpolated into the script',
  );
});

test('the signing step signs IMAGE@DIGEST with the Actions OIDC token, and refuses without id-token: write', async () => {
  const inputs = {
    SIGIL_IMAGE: `${stack.registry!.host}/ci/app`,
    SIGIL_DIGEST: digest,
    SIGIL_CA_URL: stack.ca.url,
    SIGIL_LOG_URL: stack.log.url,
  };
  const denied = await runStep(inputs);
  assert.equal(denied.code, 1);
  assert.match(denied.out, /getting credentials: no token was found/);
  const bad = await runStep({
    ...inputs,
    SIGIL_DIGEST: 'latest',
    ACTIONS_ID_TOKEN_REQUEST_URL: stack.actionsRequestUrl,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'x',
  });
  assert.equal(bad.code, 1);
  assert.match(bad.out, /digest must be sha256/);

  const r = await runStep({
    ...inputs,
    ACTIONS_ID_TOKEN_REQUEST_URL: stack.actionsRequestUrl,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: stack.actionsRequestToken,
  });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /tlog entry created with index: 0/);
  const pinned = parseReference(`${stack.registry!.host}/ci/app@${digest}`);
  // cosign v3's layout by default; `layout: legacy` writes the .sig tag.
  assert.equal((await readBundleReferrers(new RegistryClient(), pinned)).length, 1);
  assert.equal((await readSignatures(new RegistryClient(), pinned)).length, 0);
  const legacy = await runStep({
    ...inputs,
    SIGIL_LAYOUT: 'legacy',
    ACTIONS_ID_TOKEN_REQUEST_URL: stack.actionsRequestUrl,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: stack.actionsRequestToken,
  });
  assert.equal(legacy.code, 0, legacy.out);
  assert.equal((await readSignatures(new RegistryClient(), pinned)).length, 1);
  const wrong = await runStep({
    ...inputs,
    SIGIL_LAYOUT: 'v2',
    ACTIONS_ID_TOKEN_REQUEST_URL: 'x',
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'x',
  });
  assert.equal(wrong.code, 1);
  assert.match(wrong.out, /layout must be v3 or legacy/);
});
