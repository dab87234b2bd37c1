import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDockerRegistry } from '../helpers/registry.js';
import {
  RegistryClient,
  parseReference,
  pushImage,
  tinyImage,
  computeDigest,
  buildImage,
  MEDIA_TYPES,
} from '../../src/oci/index.js';
import { isSigilError } from '../../src/errors/index.js';

test('push, resolve and pull a tiny image on Debian docker-registry', async (t) => {
  const reg = await startDockerRegistry(t);
  if (!reg) return;
  t.after(() => reg.stop());
  const client = new RegistryClient();
  await client.ping(reg.host);
  const img = tinyImage('client-test');
  const ref = parseReference(`${reg.host}/org/app:v1`);
  const pushed = await pushImage(client, ref, img);
  assert.equal(pushed, img.digest);

  assert.equal(await client.resolveDigest(ref), img.digest);
  const got = await client.getManifest(ref.withDigest(img.digest));
  assert.equal(got.mediaType, MEDIA_TYPES.ociManifest);
  assert.deepEqual(got.bytes, img.manifestBytes);
  const head = await client.headManifest(ref);
  assert.equal(head?.digest, img.digest);

  const layer = img.layers[0]!;
  assert.deepEqual(await client.getBlob(ref, computeDigest(layer.bytes)), layer.bytes);
  assert.equal(await client.headBlob(ref, computeDigest(layer.bytes)), layer.bytes.length);
  assert.equal(await client.headBlob(ref, computeDigest(Buffer.from('nope'))), undefined);

  // cross-repository mount
  const other = parseReference(`${reg.host}/org/other:v1`);
  await client.putBlob(other, layer.bytes, { mountFrom: 'org/app' });
  assert.equal(await client.headBlob(other, computeDigest(layer.bytes)), layer.bytes.length);

  assert.deepEqual(await client.listTags(ref), ['v1']);
  await assert.rejects(client.getManifest(ref.withTag('missing')), (e: unknown) =>
    isSigilError(e, 'NOT_FOUND'),
  );
  await assert.rejects(client.getBlob(ref, computeDigest(Buffer.from('absent'))), (e: unknown) =>
    isSigilError(e, 'NOT_FOUND'),
  );
  // a manifest asked for by digest is checked against the bytes (small limit → TOO_LARGE also checked)
  const small = new RegistryClient({ maxManifestBytes: 10 });
  await assert.rejects(small.getManifest(ref), (e: unknown) => isSigilError(e, 'TOO_LARGE'));
  // the referrers API is absent in distribution 2.8: the fallback tag scheme answers (empty)
  const refs = await client.referrers(ref.withDigest(img.digest));
  assert.deepEqual(refs.manifests, []);

  // referrers pushed by sigil land in the fallback tag index, and the client finds them there
  const subject = { mediaType: img.mediaType, digest: img.digest, size: img.manifestBytes.length };
  const pushedArtifacts: string[] = [];
  for (const [i, type] of [MEDIA_TYPES.sigstoreBundle, 'application/spdx+json'].entries()) {
    const empty = Buffer.from('{}');
    const layer = Buffer.from(`{"artifact":${i}}`);
    await client.putBlob(ref, empty);
    await client.putBlob(ref, layer);
    const art = buildImage(
      { mediaType: MEDIA_TYPES.ociEmpty, bytes: empty },
      [{ mediaType: type, bytes: layer }],
      {
        artifactType: type,
        subject,
        annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope' },
      },
    );
    pushedArtifacts.push(await client.pushReferrer(ref, art.manifestBytes, art.mediaType));
    assert.equal(pushedArtifacts[i], art.digest);
  }
  const found = await client.referrers(ref.withDigest(img.digest));
  assert.deepEqual(
    found.manifests.map((d) => d.digest),
    [...pushedArtifacts].sort(),
    'the fallback index keeps every entry, sorted by digest as go-containerregistry writes it',
  );
  const bundles = await client.referrers(ref.withDigest(img.digest), {
    artifactType: MEDIA_TYPES.sigstoreBundle,
  });
  assert.deepEqual(
    bundles.manifests.map((d) => d.digest),
    [pushedArtifacts[0]],
  );
  assert.equal(bundles.manifests[0]!.annotations?.['dev.sigstore.bundle.content'], 'dsse-envelope');
  assert.ok((await client.listTags(ref)).includes(`sha256-${img.digest.slice(7)}`));
});

test('an unreachable registry is REGISTRY_ERROR, not NOT_FOUND', async () => {
  const client = new RegistryClient({ timeoutMs: 2000 });
  await assert.rejects(
    client.getManifest(parseReference('127.0.0.1:1/org/app:v1')),
    (e: unknown) => isSigilError(e, 'REGISTRY_ERROR') && /unreachable/.test(e.message),
  );
});
