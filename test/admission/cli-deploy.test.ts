import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { parsePolicyText } from '../../src/admission/policy/index.js';
import { generateP256, publicKeyPem } from '../../src/crypto/index.js';
import { freePort } from '../helpers/registry.js';
import { ROOT, runSigil } from '../e2e/stack.js';
import { getText } from './helpers.js';

describe('deploy/ manifests', () => {
  const docs = readdirSync(join(ROOT, 'deploy'))
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .flatMap((f) =>
      parseAllDocuments(readFileSync(join(ROOT, 'deploy', f), 'utf8')).map(
        // eslint-disable-next-line @typescript-eslint/no-explicit-any -- free-form manifests, asserted field by field
        (d) => d.toJS() as Record<string, any>,
      ),
    );
  const byKind = (k: string) => docs.filter((d) => d.kind === k);

  it('has every object a cluster admin needs', () => {
    for (const k of [
      'Namespace',
      'ServiceAccount',
      'Role',
      'RoleBinding',
      'ConfigMap',
      'Service',
      'Deployment',
      'MutatingWebhookConfiguration',
      'ValidatingWebhookConfiguration',
    ]) {
      assert.ok(byKind(k).length > 0, `missing ${k}`);
    }
  });
  it('webhooks: Fail, 10 s, v1 reviews, kube-system excluded, the right paths', () => {
    for (const [kind, path] of [
      ['MutatingWebhookConfiguration', '/mutate'],
      ['ValidatingWebhookConfiguration', '/validate'],
    ] as const) {
      const w = byKind(kind)[0]!.webhooks[0];
      assert.equal(w.failurePolicy, 'Fail');
      assert.equal(w.timeoutSeconds, 10);
      assert.deepEqual(w.admissionReviewVersions, ['v1']);
      assert.equal(w.clientConfig.service.path, path);
      assert.ok(w.namespaceSelector.matchExpressions[0].values.includes('kube-system'));
      const resources = w.rules.flatMap((r: { resources: string[] }) => r.resources);
      for (const r of [
        'pods',
        'deployments',
        'statefulsets',
        'daemonsets',
        'replicasets',
        'jobs',
        'cronjobs',
      ])
        assert.ok(resources.includes(r), r);
    }
  });
  it('the Deployment runs `admission serve` with probes on the served port, and the ConfigMap policy loads', () => {
    const d = byKind('Deployment')[0]!;
    const c = d.spec.template.spec.containers[0];
    assert.deepEqual(c.args.slice(0, 2), ['admission', 'serve']);
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    assert.equal(c.livenessProbe.httpGet.path, '/healthz');
    assert.equal(c.readinessProbe.httpGet.scheme, 'HTTPS');
    const cm = byKind('ConfigMap').find((m) => m.metadata.name === 'sigil-admission-policies')!;
    const policies = Object.values(cm.data as Record<string, string>).flatMap((text) =>
      parsePolicyText(text, 'configmap', { hasTrustedRoot: true }),
    );
    assert.equal(policies[0]!.rules[0]!.failureAction, 'Enforce');
  });
});

describe('sigil admission / policy CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-adm-cli-'));
  const keyPolicy = (pattern: string) => `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: keyed}
spec:
  rules:
    - name: by-key
      verifyImages:
        - imageReferences: ["${pattern}"]
          failureAction: Enforce
          attestors:
            - entries:
                - keys:
                    publicKeys: |-
${publicKeyPem(generateP256().publicKey)
  .trim()
  .split('\n')
  .map((l) => `                      ${l}`)
  .join('\n')}
`;

  it('an invalid policy is refused at load with the reason', async () => {
    const p = join(dir, 'bad.yaml');
    writeFileSync(p, keyPolicy('x/*').replace('failureAction: Enforce', 'failureAction: Sometimes'));
    const r = await runSigil(['policy', 'test', '--policy', p, '--resource', p]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^sigil: error: invalid policy: .*bad\.yaml: ClusterPolicy keyed: spec\.rules\[0\]\.verifyImages\[0\]\.failureAction: unknown failure action "Sometimes"/m,
    );
  });

  it('policy test: outside the pattern passes (exit 0); an unreachable registry under Fail is denied (exit 1)', async () => {
    const refused = `127.0.0.1:${await freePort()}`;
    const policy = join(dir, 'policy.yaml');
    writeFileSync(policy, keyPolicy(`${refused}/org/*`));
    const ok = join(dir, 'ok.yaml');
    writeFileSync(
      ok,
      `apiVersion: v1\nkind: Pod\nmetadata: {name: ok}\nspec:\n  containers:\n    - {name: a, image: "${refused}/other/app:1"}\n`,
    );
    const okRun = await runSigil(['policy', 'test', '--policy', policy, '--resource', ok]);
    assert.equal(okRun.code, 0, okRun.stderr);
    const out = JSON.parse(okRun.stdout) as { mediaType: string; allowed: boolean; patch: unknown[] };
    assert.equal(out.mediaType, 'application/vnd.sigil.admission-decision.v1+json');
    assert.equal(out.allowed, true);
    const bad = join(dir, 'bad-pod.yaml');
    writeFileSync(
      bad,
      `apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n    - {name: a, image: "${refused}/org/app:1"}\n`,
    );
    const badRun = await runSigil([
      'admission',
      'test',
      '--policy',
      policy,
      '--resource',
      bad,
      '--timeout',
      '3000',
    ]);
    assert.equal(badRun.code, 1);
    const denied = JSON.parse(badRun.stdout) as { allowed: boolean; message: string };
    assert.equal(denied.allowed, false);
    assert.match(
      denied.message,
      new RegExp(
        `resource Pod/default/web was blocked due to the following policies \\n\\nkeyed:\\n  by-key: failed to verify image ${refused.replace(/\./g, '\\.')}/org/app:1: `,
      ),
    );
  });

  it('admission serve generates a certificate, prints its CA bundle and answers over HTTPS', async () => {
    const policy = join(dir, 'serve.yaml');
    writeFileSync(policy, keyPolicy('example.com/*'));
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'admission',
        'serve',
        '--policy',
        policy,
        '--port',
        String(port),
        '--log-level',
        'silent',
      ],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      let stdout = '';
      const bundle = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no caBundle within 30 s: ${stdout}`)), 30_000);
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString('utf8');
          const m = /^caBundle: ([A-Za-z0-9+/=]+)$/m.exec(stdout);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
        child.once('exit', (code) => reject(new Error(`exited ${code}`)));
      });
      const ca = Buffer.from(bundle, 'base64').toString('utf8');
      assert.match(ca, /^-----BEGIN CERTIFICATE-----/);
      const r = await getText(`https://127.0.0.1:${port}/readyz`, ca);
      assert.equal(r.status, 200);
      assert.deepEqual(JSON.parse(r.text), { status: 'ready', policies: 1 });
      const viaName = await getText(`https://localhost:${port}/healthz`, ca).catch((e: Error) => ({
        status: 0,
        text: e.message,
      }));
      assert.ok(
        viaName.status === 200 || /ECONNREFUSED/.test(viaName.text),
        'the certificate also names localhost',
      );
    } finally {
      child.kill('SIGTERM');
    }
  });
});
