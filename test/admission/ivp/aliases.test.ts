/**
 * matchImageReferences against other spellings of the same image. Kyverno matches a glob
 * against the image string as written, so `myorg/app` slips past `docker.io/myorg/*` and
 * `ghcr.io:443/org/app` past `ghcr.io/org/*`: unmatched images are left out of `images` and
 * never verified. sigil matches every spelling (fail closed): each hostile spelling here must be
 * verified, and an image outside the glob under every spelling must not be.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTrustedRoot } from '../../../src/bundle/index.js';
import { parsePolicyText } from '../../../src/admission/policy/index.js';
import { createAdmissionServer } from '../../../src/admission/server.js';
import { registryImageSource, SigstoreSignatureVerifier } from '../../../src/admission/real-verifier.js';
import {
  evaluateIvp,
  targetFor,
  type CompiledIvp,
  type IvpVerifier,
} from '../../../src/admission/ivp/index.js';
import { matchingForms } from '../../../src/admission/ivp/glob.js';
import { parseReference, RegistryClient } from '../../../src/oci/index.js';
import { anyWildcardMatches } from '../../../src/admission/policy/wildcard.js';
import { matchForms } from '../../../src/admission/policy/image-pattern.js';
import { pod, postJson, review, webhookTestbed } from '../helpers.js';
import { seedAttestor, seedIvp } from './seed-policies.js';
import { ATTESTOR_CI, ivpHead } from './testbed.js';

const D = `sha256:${'a'.repeat(64)}`;

const VERIFY_CI = 'images.containers.map(i, verifyImageSignatures(i, [attestors.ci])).all(e, e > 0)';

function policy(match: string): CompiledIvp {
  const yaml = `${ivpHead('aliases')}  matchImageReferences:
    - ${match}
${ATTESTOR_CI}  validationConfigurations: {verifyDigest: false, required: false}
  validations:
    - expression: "${VERIFY_CI}"
      message: unsigned
`;
  const [p] = parsePolicyText(yaml, 'p.yaml', { hasTrustedRoot: true });
  assert.ok(p?.ivp);
  return p.ivp;
}

/** Records which images were verified; none has a signature. */
function recorder(): { asked: string[]; v: IvpVerifier } {
  const asked: string[] = [];
  return {
    asked,
    v: {
      signatures: async (_p, image) => {
        asked.push(image);
        return 0;
      },
      attestations: () => Promise.reject(new Error('unexpected attestation verification')),
      resolveDigest: () => Promise.reject(new Error('unexpected digest resolution')),
    },
  };
}

async function decide(p: CompiledIvp, image: string) {
  const object = { kind: 'Pod', metadata: { name: 'x' }, spec: { containers: [{ name: 'c', image }] } };
  const input = { kind: 'Pod', namespace: 'default', name: 'x', operation: 'CREATE', object };
  const { asked, v } = recorder();
  const r = await evaluateIvp(p, { target: targetFor(input), kind: 'Pod', object }, v, 'validate');
  return { status: r?.status, images: r?.images, asked };
}

const CASES: { match: string; verified: string[]; passedOver: string[] }[] = [
  {
    match: 'glob: "docker.io/myorg/*"',
    verified: [
      'docker.io/myorg/app:v1',
      'myorg/app:v1',
      'index.docker.io/myorg/app:v1',
      'registry-1.docker.io/myorg/app',
      'index.docker.io:443/myorg/app:v1',
      `myorg/app:v1@${D}`,
    ],
    passedOver: ['ghcr.io/myorg/app:v1', 'docker.io/myorg-evil/app', 'myorgx/app', 'docker.io/other/myorg'],
  },
  {
    match: 'glob: "index.docker.io/myorg/*"',
    verified: ['myorg/app', 'docker.io/myorg/app:v1', 'registry-1.docker.io:443/myorg/app'],
    passedOver: ['quay.io/myorg/app'],
  },
  {
    match: 'glob: "docker.io/library/nginx*"',
    verified: [
      'nginx',
      'nginx:1.27',
      'library/nginx:1.27',
      'docker.io/nginx',
      'index.docker.io/library/nginx:1',
      'registry-1.docker.io/nginx:1',
      `nginx@${D}`,
    ],
    passedOver: ['ghcr.io/nginx', 'docker.io/bitnami/nginx', 'nginxinc/nginx-unprivileged'],
  },
  {
    match: 'glob: "nginx*"',
    verified: [
      'nginx:1',
      'docker.io/library/nginx:1',
      'index.docker.io/nginx',
      'registry-1.docker.io:443/nginx',
    ],
    passedOver: ['ghcr.io/library/nginx', 'quay.io/nginx'],
  },
  {
    match: 'glob: "ghcr.io/org/*"',
    verified: ['ghcr.io/org/app', 'ghcr.io:443/org/app:v1', 'GHCR.IO/org/app', `Ghcr.Io:443/org/app@${D}`],
    passedOver: ['ghcr.io:8443/org/app', 'ghcr.io.evil.example/org/app', 'ghcr.io/org2/app'],
  },
  {
    // Digest first: a pinned `app:v1@…` stays under an `app:v1` glob; another tag does not.
    match: 'glob: "ghcr.io/org/app:v1"',
    verified: ['ghcr.io/org/app:v1', `ghcr.io/org/app:v1@${D}`, `ghcr.io:443/org/app:v1@${D}`],
    passedOver: ['ghcr.io/org/app:v2', `ghcr.io/org/app@${D}`, `ghcr.io/org/app:v2@${D}`],
  },
  {
    // An untagged name is :latest.
    match: 'glob: "ghcr.io/org/app:latest"',
    verified: ['ghcr.io/org/app', 'ghcr.io:443/org/app', 'ghcr.io/org/app:latest'],
    passedOver: ['ghcr.io/org/app:v1'],
  },
  {
    match: 'glob: "ghcr.io/org/app"',
    verified: ['ghcr.io/org/app', 'ghcr.io:443/org/app:latest', 'GHCR.io/org/app'],
    passedOver: ['ghcr.io/org/app:v1'],
  },
  {
    match: `expression: "ref.startsWith('ghcr.io/org/')"`,
    verified: ['ghcr.io/org/app', 'ghcr.io:443/org/app:v1', 'GHCR.IO/org/app'],
    passedOver: ['ghcr.io/other/app', 'quay.io/org/app'],
  },
  {
    match: `expression: "ref.startsWith('docker.io/myorg/')"`,
    verified: ['myorg/app', 'index.docker.io/myorg/app:v1', 'registry-1.docker.io/myorg/app'],
    passedOver: ['myorg2/app'],
  },
];

test('matchImageReferences: every spelling of an image under a glob or expression is verified', async () => {
  for (const c of CASES) {
    const p = policy(c.match);
    for (const image of c.verified) {
      const r = await decide(p, image);
      assert.deepEqual(
        [r.status, r.images, r.asked],
        ['fail', [image], [image]],
        `${c.match} must verify ${image}`,
      );
    }
    for (const image of c.passedOver) {
      const r = await decide(p, image);
      assert.deepEqual([r.status, r.images, r.asked], ['pass', [], []], `${c.match} must pass over ${image}`);
    }
  }
});

test('an image that does not parse is under every glob: its verification is attempted and fails closed', async () => {
  const p = policy('glob: "ghcr.io/org/*"');
  for (const image of ['ghcr.io/Org/App', 'ghcr.io/org/app:', 'ghcr.io/org/app@sha256:short']) {
    const r = await decide(p, image);
    assert.deepEqual([r.status, r.images], ['fail', [image]], image);
  }
});

test('the spellings a glob is matched against keep the written tag and digest', () => {
  assert.deepEqual(matchingForms('registry-1.docker.io:443/nginx'), [
    'registry-1.docker.io:443/nginx',
    'docker.io/library/nginx:latest',
    'docker.io/library/nginx',
  ]);
  assert.deepEqual(matchingForms(`ghcr.io:443/org/app:v1@${D}`), [
    `ghcr.io:443/org/app:v1@${D}`,
    `ghcr.io/org/app@${D}`,
    'ghcr.io/org/app:v1',
    `ghcr.io/org/app:v1@${D}`,
  ]);
  assert.equal(matchingForms('ghcr.io/org/App'), undefined);
});

test('over HTTPS: hostile spellings of a matched image are denied, not admitted unverified', async (t) => {
  const bed = await webhookTestbed(t);
  if (!bed) return;
  const { stack, servers, host, push } = bed;
  const unsigned = await push(`${host}/org/rs-unsigned:v1`, 'unsigned');
  const id = { issuer: stack.oidc.issuer, logUrl: stack.log.url };
  const tagGlob = seedIvp(`${host}/org/rs-unsigned:v1`, id).replace('name: check-images', 'name: by-tag');
  // A Docker Hub and a :443 glob, decided on /validate: verifyDigest refuses the tag before any
  // registry is asked, so only whether the image was matched decides.
  const hub = (name: string, glob: string) => `${ivpHead(name)}  matchImageReferences:
    - glob: "${glob}"
${seedAttestor(id)}  validations:
    - expression: "${VERIFY_CI}"
`;
  const s = await createAdmissionServer({
    policies: parsePolicyText(
      [tagGlob, hub('hub', 'docker.io/myorg/*'), hub('ghcr', 'ghcr.io/org/*')].join('---\n'),
      'policy.yaml',
      { hasTrustedRoot: true },
    ),
    source: registryImageSource(new RegistryClient({ timeoutMs: 5000 })),
    verifier: new SigstoreSignatureVerifier(parseTrustedRoot(stack.trustedRootJson)),
    port: 0,
    timeoutMs: 5000,
    logLevel: 'silent',
  });
  servers.push(s);
  const answer = async (image: string) => {
    const r = await postJson(`${s.url}/validate`, review('Pod', pod('x', [image])), s.caPem!);
    assert.equal(r.status, 200, r.text);
    return (r.body as { response: { allowed: boolean; status?: { message: string } } }).response;
  };
  // Tag and digest written together: Kyverno's glob `…:v1` does not match the string, so the
  // unsigned digest would be admitted; here its signature is checked and missing.
  const pinned = await answer(`${host}/org/rs-unsigned:v1@${unsigned}`);
  assert.equal(pinned.allowed, false);
  assert.equal(pinned.status?.message, 'Policy by-tag failed: failed to verify image signatures');
  for (const [image, policyName] of [
    ['myorg/app:v1', 'hub'],
    ['index.docker.io/myorg/app:v1', 'hub'],
    ['registry-1.docker.io/myorg/app:v1', 'hub'],
    ['ghcr.io:443/org/app:v1', 'ghcr'],
    ['GHCR.IO/org/app:v1', 'ghcr'],
  ]) {
    const a = await answer(image!);
    assert.equal(a.allowed, false, image);
    assert.equal(a.status?.message, `Policy ${policyName} failed: image ${image} does not have a digest`);
  }
  const outside = await answer('ghcr.io/other/app:v1');
  assert.equal(outside.allowed, true, outside.status?.message);
});

test('an IVP without validations (decided as a rule) matches its globs in every spelling: host-less and aliased globs still select the image', () => {
  const yaml = (glob: string): string => `${ivpHead('as-rule')}  matchImageReferences:
    - glob: "${glob}"
${ATTESTOR_CI}`;
  const selects = (glob: string, image: string): boolean => {
    const [p] = parsePolicyText(yaml(glob), 'p.yaml', { hasTrustedRoot: true });
    assert.ok(p && p.rules.length === 1 && !p.ivp, 'decided as a rule');
    const forms = matchForms(parseReference(image));
    return !!anyWildcardMatches(p.rules[0]!.imageReferences, forms.primary);
  };
  // Kyverno matches `nginx*` against `nginx:1.2` as written: the image must be verified here too.
  assert.equal(selects('nginx*', 'nginx:1.2'), true);
  assert.equal(selects('nginx*', 'docker.io/library/nginx:1.2'), true);
  assert.equal(selects('index.docker.io/org/*', 'org/app:v1'), true);
  assert.equal(selects('ghcr.io:443/org/*', 'ghcr.io/org/app:v1'), true);
  // Controls: other names stay outside.
  assert.equal(selects('nginx*', 'redis:7'), false);
  assert.equal(selects('index.docker.io/org/*', 'other/app:v1'), false);
});
