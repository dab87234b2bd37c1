import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  RegistryClient,
  buildImage,
  buildSimpleSigningPayload,
  parseManifest,
  parseReference,
  parseSimpleSigningPayload,
  pushImage,
  readSignatures,
  tinyImage,
  triangulate,
  MEDIA_TYPES,
  MAX_SIGNATURES,
} from '../../src/oci/index.js';
import { createRegistryServer } from '../../src/demo/registry/index.js';
import { SigilError, isSigilError } from '../../src/errors/index.js';

const onlySigilErrors = (f: () => unknown): void => {
  try {
    f();
  } catch (e) {
    if (!(e instanceof SigilError)) throw e;
  }
};

test('parsers throw only SigilErrors on arbitrary input', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), (s) => onlySigilErrors(() => parseReference(s))),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), (b) => onlySigilErrors(() => parseManifest(b))),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 4 }), (v) =>
      onlySigilErrors(() => parseManifest(Buffer.from(JSON.stringify(v) ?? 'null'))),
    ),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), (b) =>
      onlySigilErrors(() => parseSimpleSigningPayload(b)),
    ),
    { numRuns: 1000 },
  );
});

test('generated valid references round-trip through toString', () => {
  const comp = fc
    .stringMatching(/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/, { maxLength: 12 })
    .filter((s) => s.length > 0);
  const tag = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}$/);
  const hex = fc.stringMatching(/^[0-9a-f]{64}$/);
  const registry = fc.constantFrom(
    'ghcr.io',
    'localhost:5000',
    '127.0.0.1:8080',
    'registry.example.com',
    'docker.io',
  );
  fc.assert(
    fc.property(
      registry,
      fc.array(comp, { minLength: 1, maxLength: 4 }),
      fc.option(tag),
      fc.option(hex),
      (r, parts, t, h) => {
        const input = `${r}/${parts.join('/')}${t ? `:${t}` : ''}${h ? `@sha256:${h}` : ''}`;
        const ref = parseReference(input);
        const again = parseReference(ref.toString());
        assert.equal(again.toString(), ref.toString());
        assert.equal(ref.digest, h ? `sha256:${h}` : undefined);
        assert.equal(ref.tag, t ?? undefined);
      },
    ),
    { numRuns: 500 },
  );
});

test('the embedded registry answers bad input with 4xx, never 5xx', async (t) => {
  const reg = await createRegistryServer({ port: 0, logLevel: 'silent', maxBlobBytes: 1024 * 1024 });
  t.after(() => reg.close());
  const put = (path: string, body: Buffer | string, type = MEDIA_TYPES.ociManifest) =>
    fetch(`${reg.url}${path}`, { method: 'PUT', body, headers: { 'content-type': type } });
  const cases: [Promise<Response>, number][] = [
    [put('/v2/org/app/manifests/v1', 'not json'), 400],
    [put('/v2/org/app/manifests/v1', `${'['.repeat(100)}${']'.repeat(100)}`), 400],
    [
      put(
        '/v2/org/app/manifests/v1',
        '{"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:00","size":1},"layers":[]}',
      ),
      400,
    ],
    [put('/v2/org/app/manifests/v1', Buffer.alloc(5 * 1024 * 1024, 0x20)), 413],
    [put('/v2/org/app/manifests/bad..tag', '{}'), 400],
    [put(`/v2/org/app/manifests/sha256:${'0'.repeat(64)}`, JSON.stringify(tinyImage('x').manifest)), 400],
    [fetch(`${reg.url}/v2/org/app/manifests/missing`), 404],
    [fetch(`${reg.url}/v2/org/app/manifests/missing`, { method: 'HEAD' }), 404],
    [fetch(`${reg.url}/v2/org/app/blobs/sha256:abc`), 400],
    [fetch(`${reg.url}/v2/org/app/blobs/uploads/not-an-upload`, { method: 'PATCH', body: 'x' }), 404],
    [fetch(`${reg.url}/v2/org/app/blobs/uploads/?digest=sha256:zz`, { method: 'POST', body: 'x' }), 400],
    [fetch(`${reg.url}/v2/org/app/referrers/nope`), 400],
    [fetch(`${reg.url}/v2/org/app/tags/list`), 404],
    [
      fetch(`${reg.url}/v2/org/app/blobs/uploads/?digest=sha256:${'0'.repeat(64)}`, {
        method: 'POST',
        body: Buffer.alloc(2 * 1024 * 1024),
      }),
      413,
    ],
    [fetch(`${reg.url}/v2/../etc/passwd/tags/list`), 404],
  ];
  for (const [i, [p, status]] of cases.entries()) {
    const res = await p;
    assert.equal(res.status, status, `case ${i}`);
    await res.arrayBuffer();
  }
});

test('more than 100 signature layers are refused; a missing .sig tag is no signatures; an unreachable registry is an error', async (t) => {
  const reg = await createRegistryServer({ port: 0, logLevel: 'silent' });
  t.after(() => reg.close());
  const client = new RegistryClient();
  const ref = parseReference(`${reg.host}/org/app:v1`);
  const img = tinyImage('many');
  await pushImage(client, ref, img);
  const pinned = ref.withDigest(img.digest);
  assert.deepEqual(await readSignatures(client, pinned), []);
  const payload = buildSimpleSigningPayload(ref.dockerReference(), img.digest);
  await client.putBlob(ref, payload);
  const layers = Array.from({ length: MAX_SIGNATURES + 1 }, (_, i) => ({
    mediaType: MEDIA_TYPES.cosignSimpleSigning,
    bytes: payload,
    annotations: { 'dev.cosignproject.cosign/signature': `sig${i}` },
  }));
  const config = { mediaType: MEDIA_TYPES.ociConfig, bytes: Buffer.from('{}') };
  await client.putBlob(ref, config.bytes);
  const many = buildImage(config, layers);
  await client.putManifest(triangulate(pinned), many.manifestBytes, many.mediaType);
  await assert.rejects(
    readSignatures(client, pinned),
    (e: unknown) => isSigilError(e, 'TOO_LARGE') && /101 layers/.test(e.message),
  );
  await reg.close();
  await assert.rejects(readSignatures(new RegistryClient({ timeoutMs: 1000 }), pinned), (e: unknown) =>
    isSigilError(e, 'REGISTRY_ERROR'),
  );
});
