import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { runSigil, runSigilInProcess, type CliResult } from '../e2e/stack.js';
import { PUBLIC_SIGSTORE_DIR } from '../helpers/env.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;

const oneLineError = (r: CliResult): string => {
  assert.notEqual(r.code, 0);
  const lines = r.stderr.trim().split('\n');
  assert.ok(lines[0]!.startsWith('sigil: error: '), r.stderr);
  assert.ok(lines.length <= 2 && (lines[1] === undefined || lines[1].startsWith('sigil: hint: ')), r.stderr);
  return lines[0]!;
};

test('no token anywhere: the exact error and the permissions hint, before anything else happens', async () => {
  const r = await runSigil(['sign', '--yes', `127.0.0.1:9/org/app@${DIGEST}`]);
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    'sigil: error: getting credentials: no token was found\n' +
      'sigil: hint: pass --identity-token, set SIGSTORE_ID_TOKEN, or in GitHub Actions grant the job `permissions: id-token: write`\n',
  );
  assert.equal(r.stdout, '');
});

test('no terminal and no --yes: sign refuses instead of waiting for an answer', async (t) => {
  // A registry that knows the image (HEAD → 200), so the refusal is the only thing that stops it.
  const seen: string[] = [];
  const registry = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(200, {
      'content-type': 'application/vnd.oci.image.manifest.v1+json',
      'docker-content-digest': DIGEST,
      'content-length': '2',
    });
    res.end(req.method === 'HEAD' ? undefined : '{}');
  });
  await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
  t.after(() => registry.close());
  const port = (registry.address() as { port: number }).port;
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln';
  const r = await runSigil(
    [
      'sign',
      '--identity-token',
      jwt,
      '--rekor-url',
      'http://127.0.0.1:9',
      `127.0.0.1:${port}/org/app@${DIGEST}`,
    ],
    {},
    30_000,
  );
  assert.equal(r.code, 1);
  assert.match(
    oneLineError(r),
    /refusing to upload to the transparency log without confirmation: no terminal to ask on/,
  );
  assert.match(r.stderr, /sigil: hint: pass --yes/);
  assert.ok(!seen.some((s) => s.startsWith('PUT') || s.startsWith('POST')), 'nothing was written');
  assert.doesNotMatch(r.stderr, /eyJ/, 'the token is not echoed');
});

test('bad references, flags and files: one-line errors, non-zero exit', async () => {
  const cases: [string[], RegExp][] = [
    [
      [
        'verify',
        '--trusted-root',
        '/nonexistent',
        '--certificate-identity',
        'x',
        '--certificate-oidc-issuer',
        'y',
        'UPPER/Case:tag',
      ],
      /repository name must be lowercase/,
    ],
    [
      [
        'verify',
        '--trusted-root',
        '/nonexistent',
        '--certificate-identity',
        'x',
        '--certificate-oidc-issuer',
        'y',
        'reg.example/app@sha256:12',
      ],
      /digest/,
    ],
    [
      ['verify', '127.0.0.1:5000/app:v1'],
      /--certificate-identity or --certificate-identity-regexp is required/,
    ],
    [
      ['verify', '--certificate-identity', 'x', '127.0.0.1:5000/app:v1'],
      /--certificate-oidc-issuer or --certificate-oidc-issuer-regexp is required/,
    ],
    [
      [
        'verify',
        '--certificate-identity',
        'x',
        '--certificate-oidc-issuer',
        'y',
        '--trusted-root',
        '/nonexistent',
        '127.0.0.1:5000/app:v1',
      ],
      /cannot read trusted root \/nonexistent: ENOENT/,
    ],
    [
      [
        'verify',
        '--certificate-identity-regexp',
        '(',
        '--certificate-oidc-issuer',
        'y',
        '--trusted-root',
        `${PUBLIC_SIGSTORE_DIR}trusted_root.json`,
        '127.0.0.1:9/app@' + DIGEST,
      ],
      /subjectRegExp is not a valid regular expression/,
    ],
    [
      ['sign', '--yes', '--fulcio-url', 'ftp://x', '--identity-token', 'a.b.c', `127.0.0.1:9/app@${DIGEST}`],
      /--fulcio-url "ftp:\/\/x" is not an http\(s\) URL/,
    ],
    [
      ['sign', '--yes', '--identity-token', 'not-a-jwt', `127.0.0.1:9/app@${DIGEST}`],
      /identity token is not a JWT/,
    ],
    [
      [
        'verify-blob',
        '--bundle',
        '/nonexistent',
        '--insecure-ignore-identity-unsafe',
        '--trusted-root',
        `${PUBLIC_SIGSTORE_DIR}trusted_root.json`,
        '/etc/hostname',
      ],
      /cannot read bundle \/nonexistent/,
    ],
    [
      ['attest', '--yes', '--predicate', '/nonexistent', '--type', 'not a uri', `127.0.0.1:9/app@${DIGEST}`],
      /invalid predicate type/,
    ],
    [['triangulate', '--type', 'nope', `127.0.0.1:9/app@${DIGEST}`], /invalid --type "nope"/],
    [['sign', '--no-such-flag', 'x'], /unknown option '--no-such-flag'/],
  ];
  for (const [args, want] of cases) {
    const r = await runSigilInProcess(args);
    assert.match(oneLineError(r), want, args.join(' '));
  }
  const tri = await runSigilInProcess(['triangulate', `127.0.0.1:9/org/app@${DIGEST}`]);
  assert.equal(tri.code, 0, tri.stderr);
  assert.equal(tri.stdout, `127.0.0.1:9/org/app:sha256-${'a'.repeat(64)}.sig\n`);
});
