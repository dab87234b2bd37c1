import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isLoopbackRegistry, parseDigest, parseReference } from '../../src/oci/index.js';
import { isSigilError } from '../../src/errors/index.js';

const H64 = 'a'.repeat(64);
const H128 = 'b'.repeat(128);

// input → [registry, repository, tag, digest, toString]
const GOOD: [string, string, string, string | undefined, string | undefined, string][] = [
  ['nginx', 'docker.io', 'library/nginx', undefined, undefined, 'docker.io/library/nginx:latest'],
  ['nginx:1.25', 'docker.io', 'library/nginx', '1.25', undefined, 'docker.io/library/nginx:1.25'],
  ['library/nginx', 'docker.io', 'library/nginx', undefined, undefined, 'docker.io/library/nginx:latest'],
  ['docker.io/nginx', 'docker.io', 'library/nginx', undefined, undefined, 'docker.io/library/nginx:latest'],
  [
    'index.docker.io/nginx',
    'docker.io',
    'library/nginx',
    undefined,
    undefined,
    'docker.io/library/nginx:latest',
  ],
  ['index.docker.io/org/app:v1', 'docker.io', 'org/app', 'v1', undefined, 'docker.io/org/app:v1'],
  ['org/app', 'docker.io', 'org/app', undefined, undefined, 'docker.io/org/app:latest'],
  ['ghcr.io/org/app:v1', 'ghcr.io', 'org/app', 'v1', undefined, 'ghcr.io/org/app:v1'],
  ['GHCR.io/org/app', 'ghcr.io', 'org/app', undefined, undefined, 'ghcr.io/org/app:latest'],
  ['localhost/app', 'localhost', 'app', undefined, undefined, 'localhost/app:latest'],
  [
    'localhost:5000/org/app',
    'localhost:5000',
    'org/app',
    undefined,
    undefined,
    'localhost:5000/org/app:latest',
  ],
  [
    '127.0.0.1:5000/org/rs-cart:1.0',
    '127.0.0.1:5000',
    'org/rs-cart',
    '1.0',
    undefined,
    '127.0.0.1:5000/org/rs-cart:1.0',
  ],
  ['[::1]:5000/app', '[::1]:5000', 'app', undefined, undefined, '[::1]:5000/app:latest'],
  [
    'registry.example.com:443/a/b/c/d',
    'registry.example.com:443',
    'a/b/c/d',
    undefined,
    undefined,
    'registry.example.com:443/a/b/c/d:latest',
  ],
  [
    `app@sha256:${H64}`,
    'docker.io',
    'library/app',
    undefined,
    `sha256:${H64}`,
    `docker.io/library/app@sha256:${H64}`,
  ],
  [`ghcr.io/o/a:v2@sha256:${H64}`, 'ghcr.io', 'o/a', 'v2', `sha256:${H64}`, `ghcr.io/o/a:v2@sha256:${H64}`],
  [`ghcr.io/o/a@sha512:${H128}`, 'ghcr.io', 'o/a', undefined, `sha512:${H128}`, `ghcr.io/o/a@sha512:${H128}`],
  [
    'a/b_c/d__e/f-g/h.i/j---k:T_a.g-9',
    'docker.io',
    'a/b_c/d__e/f-g/h.i/j---k',
    'T_a.g-9',
    undefined,
    'docker.io/a/b_c/d__e/f-g/h.i/j---k:T_a.g-9',
  ],
  ['my-registry.local/x', 'my-registry.local', 'x', undefined, undefined, 'my-registry.local/x:latest'],
  [
    `x:${'t'.repeat(128)}`,
    'docker.io',
    'library/x',
    't'.repeat(128),
    undefined,
    `docker.io/library/x:${'t'.repeat(128)}`,
  ],
  ['localhost:5000', 'docker.io', 'library/localhost', '5000', undefined, 'docker.io/library/localhost:5000'],
  [
    'sub.domain.example/org/app:_tag',
    'sub.domain.example',
    'org/app',
    '_tag',
    undefined,
    'sub.domain.example/org/app:_tag',
  ],
];

const BAD: [string, RegExp][] = [
  ['', /empty/],
  ['Nginx', /lowercase/],
  ['ghcr.io/Org/app', /lowercase/],
  ['ghcr.io/org/app:', /tag/],
  ['ghcr.io/org/app:-bad', /tag/],
  ['ghcr.io/org/app:.bad', /tag/],
  [`ghcr.io/org/app:${'t'.repeat(129)}`, /tag/],
  ['ghcr.io/org/app@sha256:abc', /64 hex/],
  [`ghcr.io/org/app@sha256:${'A'.repeat(64)}`, /lowercase hex/],
  [`ghcr.io/org/app@sha256:${H128}`, /64 hex/],
  [`ghcr.io/org/app@sha512:${H64}`, /128 hex/],
  [`ghcr.io/org/app@md5:${'a'.repeat(32)}`, /unsupported digest algorithm/],
  ['ghcr.io/org/app@', /digest/],
  ['https://ghcr.io/org/app', /scheme/],
  ['ghcr.io/', /missing repository/],
  ['ghcr.io//app', /repository component/],
  ['ghcr.io/org/-app', /repository component/],
  ['ghcr.io/org/app-', /repository component/],
  ['ghcr.io/org/a..b', /repository component/],
  ['ghcr.io/org/a___b', /repository component/],
  ['ghcr.io/org/app/', /repository component/],
  ['-bad.io/app', /registry host/],
  ['bad_host.io/app', /registry host/],
  ['host.io:99999/app', /port/],
  ['ghcr.io/org app', /whitespace/],
  [`ghcr.io/${'a'.repeat(250)}`, /longer than 255/],
  ['x'.repeat(2000), /longer than 1024/],
  [':tag', /missing repository/],
  ['@sha256:' + H64, /missing repository/],
];

test('valid references parse and normalize', () => {
  for (const [input, registry, repository, tag, digest, str] of GOOD) {
    const r = parseReference(input);
    assert.equal(r.registry, registry, input);
    assert.equal(r.repository, repository, input);
    assert.equal(r.tag, tag, input);
    assert.equal(r.digest, digest, input);
    assert.equal(r.toString(), str, input);
    assert.equal(r.context(), `${registry}/${repository}`, input);
    // normalization is idempotent
    assert.equal(parseReference(r.toString()).toString(), str, input);
  }
});

test('invalid references fail with INVALID_REFERENCE and a reason', () => {
  for (const [input, why] of BAD) {
    assert.throws(
      () => parseReference(input),
      (e: unknown) => isSigilError(e, 'INVALID_REFERENCE') && why.test(e.message),
      `${input.slice(0, 60)} should fail with ${why}`,
    );
  }
});

test('api host, docker-reference, identifier and withDigest', () => {
  const hub = parseReference('nginx');
  assert.equal(hub.apiHost(), 'registry-1.docker.io');
  assert.equal(hub.dockerReference(), 'index.docker.io/library/nginx');
  assert.equal(hub.identifier(), 'latest');
  const local = parseReference('localhost:5000/org/app:v1');
  assert.equal(local.apiHost(), 'localhost:5000');
  assert.equal(local.dockerReference(), 'localhost:5000/org/app');
  const pinned = local.withDigest(`sha256:${H64}`);
  assert.equal(pinned.identifier(), `sha256:${H64}`);
  assert.equal(pinned.toString(), `localhost:5000/org/app:v1@sha256:${H64}`);
  assert.throws(
    () => local.withDigest('sha256:00'),
    (e: unknown) => isSigilError(e, 'INVALID_REFERENCE'),
  );
  assert.equal(pinned.withTag('v2').toString(), 'localhost:5000/org/app:v2');
});

test('digests and loopback hosts', () => {
  assert.deepEqual(parseDigest(`sha256:${H64}`), { algorithm: 'sha256', hex: H64 });
  assert.throws(
    () => parseDigest('sha256'),
    (e: unknown) => isSigilError(e, 'INVALID_REFERENCE'),
  );
  for (const h of ['localhost', 'localhost:5000', '127.0.0.1', '127.1.2.3:80', '[::1]:5000', '::1'])
    assert.ok(isLoopbackRegistry(h), h);
  for (const h of ['ghcr.io', '128.0.0.1:5000', 'localhost.evil.com', '127.0.0.1.nip.io', '10.0.0.1'])
    assert.ok(!isLoopbackRegistry(h), h);
});
