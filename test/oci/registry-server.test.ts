import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireBinary } from '../helpers/env.js';
import { skopeo, skopeoEnv, writeOciLayout } from './skopeo.js';
import {
  RegistryClient,
  buildImage,
  computeDigest,
  parseReference,
  pushImage,
  readSignatures,
  staticCredentials,
  tinyImage,
  writeSignature,
  buildSimpleSigningPayload,
  MEDIA_TYPES,
} from '../../src/oci/index.js';
import { createRegistryServer, routeOf } from '../../src/demo/registry/index.js';
import { isSigilError } from '../../src/errors/index.js';

test('routes below /v2/ (repository names with slashes)', () => {
  assert.deepEqual(routeOf('a/b/c/manifests/v1'), { kind: 'manifest', repo: 'a/b/c', ref: 'v1' });
  assert.deepEqual(routeOf('a/blobs/uploads/'), { kind: 'uploads', repo: 'a' });
  assert.deepEqual(routeOf('a/b/blobs/uploads/123'), { kind: 'upload', repo: 'a/b', id: '123' });
  assert.deepEqual(routeOf('a/blobs/sha256:00'), { kind: 'blob', repo: 'a', digest: 'sha256:00' });
  assert.deepEqual(routeOf('x/y/tags/list'), { kind: 'tags', repo: 'x/y' });
  assert.deepEqual(routeOf('x/referrers/sha256:1'), { kind: 'referrers', repo: 'x', digest: 'sha256:1' });
  assert.equal(routeOf('nothing'), undefined);
});

test('embedded registry: client push/pull, chunked upload, digest checks, referrers, cosign layout', async (t) => {
  const reg = await createRegistryServer({ port: 0, logLevel: 'silent' });
  t.after(() => reg.close());
  const client = new RegistryClient();
  const ref = parseReference(`${reg.host}/org/app:v1`);
  const img = tinyImage('embedded');
  assert.equal(await pushImage(client, ref, img), img.digest);
  assert.equal(await client.resolveDigest(ref), img.digest);
  assert.deepEqual((await client.getManifest(ref)).bytes, img.manifestBytes);
  assert.deepEqual(await client.listTags(ref), ['v1']);

  // chunked upload: POST, two PATCHes with Content-Range, PUT ?digest
  const blob = Buffer.from('chunk-one|chunk-two');
  const start = await fetch(`${reg.url}/v2/org/app/blobs/uploads/`, { method: 'POST' });
  assert.equal(start.status, 202);
  const loc = new URL(start.headers.get('location')!, reg.url);
  const p1 = await fetch(loc, {
    method: 'PATCH',
    body: blob.subarray(0, 10),
    headers: { 'content-range': '0-9', 'content-type': 'application/octet-stream' },
  });
  assert.equal(p1.status, 202);
  assert.equal(p1.headers.get('range'), '0-9');
  const bad = await fetch(loc, {
    method: 'PATCH',
    body: blob.subarray(10),
    headers: { 'content-range': '5-12', 'content-type': 'application/octet-stream' },
  });
  assert.equal(bad.status, 416);
  const p2 = await fetch(loc, {
    method: 'PATCH',
    body: blob.subarray(10),
    headers: { 'content-range': `10-${blob.length - 1}`, 'content-type': 'application/octet-stream' },
  });
  assert.equal(p2.status, 202);
  const done = new URL(loc);
  done.searchParams.set('digest', computeDigest(blob));
  const fin = await fetch(done, { method: 'PUT' });
  assert.equal(fin.status, 201);
  assert.deepEqual(await client.getBlob(ref, computeDigest(blob)), blob);

  // a monolithic upload whose bytes do not match its digest is refused
  const wrong = await fetch(
    `${reg.url}/v2/org/app/blobs/uploads/?digest=${computeDigest(Buffer.from('other'))}`,
    {
      method: 'POST',
      body: Buffer.from('these bytes'),
      headers: { 'content-type': 'application/octet-stream' },
    },
  );
  assert.equal(wrong.status, 400);
  assert.equal(((await wrong.json()) as { errors: { code: string }[] }).errors[0]!.code, 'DIGEST_INVALID');
  // a manifest naming a blob the repository lacks is refused
  const orphan = buildImage({ mediaType: MEDIA_TYPES.ociConfig, bytes: Buffer.from('{}') }, [
    { mediaType: MEDIA_TYPES.ociLayerGzip, bytes: Buffer.from('missing') },
  ]);
  await assert.rejects(
    client.putManifest(ref.withTag('orphan'), orphan.manifestBytes, orphan.mediaType),
    (e: unknown) => isSigilError(e, 'REGISTRY_ERROR') && /MANIFEST_BLOB_UNKNOWN/.test(e.message),
  );
  const badName = await fetch(`${reg.url}/v2/Org/App/tags/list`);
  assert.equal(badName.status, 400);

  // referrers computed from subject
  const empty = Buffer.from('{}');
  await client.putBlob(ref, empty);
  const sbomLayer = Buffer.from('{"sbom":true}');
  await client.putBlob(ref, sbomLayer);
  const artifact = buildImage(
    { mediaType: MEDIA_TYPES.ociEmpty, bytes: empty },
    [{ mediaType: 'application/spdx+json', bytes: sbomLayer }],
    {
      artifactType: 'application/spdx+json',
      subject: { mediaType: img.mediaType, digest: img.digest, size: img.manifestBytes.length },
      annotations: { 'org.example': 'yes' },
    },
  );
  const artDigest = await client.pushReferrer(ref, artifact.manifestBytes, artifact.mediaType);
  assert.equal(artDigest, artifact.digest);
  const refs = await client.referrers(ref.withDigest(img.digest));
  assert.equal(refs.manifests.length, 1);
  assert.equal(refs.manifests[0]!.digest, artifact.digest);
  assert.equal(refs.manifests[0]!.artifactType, 'application/spdx+json');
  assert.equal(refs.manifests[0]!.annotations?.['org.example'], 'yes');
  assert.equal(
    (await client.referrers(ref.withDigest(img.digest), { artifactType: 'other/type' })).manifests.length,
    0,
  );
  const raw = await fetch(
    `${reg.url}/v2/org/app/referrers/${img.digest}?artifactType=application%2Fspdx%2Bjson`,
  );
  assert.equal(raw.headers.get('content-type'), MEDIA_TYPES.ociIndex);
  assert.equal(raw.headers.get('oci-filters-applied'), 'artifactType');
  // the registry answered OCI-Subject, so no fallback tag was written
  assert.deepEqual(await client.listTags(ref), ['v1']);

  // cosign layout works on it too
  const payload = buildSimpleSigningPayload(ref.dockerReference(), img.digest);
  await writeSignature(client, ref.withDigest(img.digest), { payload, signature: 'c2ln' });
  const sigs = await readSignatures(client, ref.withDigest(img.digest));
  assert.equal(sigs.length, 1);
  assert.deepEqual(sigs[0]!.payload, payload);
});

test('embedded registry: file storage survives a restart; basic auth', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-embedded-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const auth = { username: 'ci', password: 's3cret' };
  const img = tinyImage('persist');
  let reg = await createRegistryServer({ port: 0, dataDir: dir, auth, logLevel: 'silent' });
  try {
    const anon = new RegistryClient();
    await assert.rejects(anon.getManifest(parseReference(`${reg.host}/org/app:v1`)), (e: unknown) =>
      isSigilError(e, 'UNAUTHENTICATED'),
    );
    const wrongCreds = new RegistryClient({
      credentials: staticCredentials({ username: 'ci', password: 'nope' }),
    });
    await assert.rejects(wrongCreds.ping(reg.host), (e: unknown) => isSigilError(e, 'UNAUTHENTICATED'));
    const client = new RegistryClient({ credentials: staticCredentials(auth, reg.host) });
    await pushImage(client, parseReference(`${reg.host}/org/app:v1`), img);
  } finally {
    await reg.close();
  }
  reg = await createRegistryServer({ port: 0, dataDir: dir, auth, logLevel: 'silent' });
  try {
    const client = new RegistryClient({ credentials: staticCredentials(auth) });
    assert.equal(await client.resolveDigest(parseReference(`${reg.host}/org/app:v1`)), img.digest);
  } finally {
    await reg.close();
  }
});

test('embedded registry: skopeo pushes to it and pulls from it', async (t) => {
  if (!requireBinary(t, 'skopeo')) return;
  const reg = await createRegistryServer({ port: 0, logLevel: 'silent' });
  const env = skopeoEnv();
  t.after(async () => {
    rmSync(env.dir, { recursive: true, force: true });
    await reg.close();
  });
  const img = tinyImage('skopeo-embedded');
  const layout = join(env.dir, 'layout');
  writeOciLayout(layout, img, 'v1');
  await skopeo(env.args, [
    'copy',
    '--dest-tls-verify=false',
    `oci:${layout}:v1`,
    `docker://${reg.host}/org/app:v1`,
  ]);
  const client = new RegistryClient();
  const ref = parseReference(`${reg.host}/org/app:v1`);
  assert.equal(await client.resolveDigest(ref), img.digest);
  // sign it, then skopeo copies image + signature out to another repository and back into a layout
  await writeSignature(client, ref.withDigest(img.digest), {
    payload: buildSimpleSigningPayload(ref.dockerReference(), img.digest),
    signature: 'c2ln',
  });
  await skopeo(env.args, [
    'copy',
    '--all',
    '--src-tls-verify=false',
    '--dest-tls-verify=false',
    `docker://${reg.host}/org/app:v1`,
    `docker://${reg.host}/copy/app:v1`,
  ]);
  assert.equal(await client.resolveDigest(parseReference(`${reg.host}/copy/app:v1`)), img.digest);
  assert.equal(
    (await readSignatures(client, parseReference(`${reg.host}/copy/app@${img.digest}`))).length,
    1,
  );
  const out = join(env.dir, 'out');
  await skopeo(env.args, [
    'copy',
    '--remove-signatures',
    '--src-tls-verify=false',
    `docker://${reg.host}/org/app:v1`,
    `oci:${out}:v1`,
  ]);
  const pulled = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as {
    manifests: { digest: string }[];
  };
  assert.equal(pulled.manifests[0]!.digest, img.digest);
  const inspect = JSON.parse(
    (await skopeo(env.args, ['inspect', '--tls-verify=false', `docker://${reg.host}/org/app:v1`])).stdout,
  ) as { Digest: string; Layers: string[] };
  assert.equal(inspect.Digest, img.digest);
  assert.equal(inspect.Layers.length, 1);
});
