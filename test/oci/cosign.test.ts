import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startDockerRegistry } from '../helpers/registry.js';
import { requireBinary } from '../helpers/env.js';
import { skopeo, skopeoEnv, writeOciLayout } from './skopeo.js';
import {
  RegistryClient,
  parseReference,
  pushImage,
  tinyImage,
  buildSimpleSigningPayload,
  parseSimpleSigningPayload,
  writeSignature,
  readSignatures,
  writeAttestation,
  readAttestations,
  triangulate,
  attachmentTag,
  describeAttachments,
  COSIGN_ANNOTATIONS,
  MEDIA_TYPES,
} from '../../src/oci/index.js';
import { generateP256, signData, toBase64 } from '../../src/crypto/index.js';
import { isSigilError } from '../../src/errors/index.js';

const H = 'c'.repeat(64);

test('simple-signing payload: exact Go bytes, parse round trip, bad payloads refused', () => {
  const p = buildSimpleSigningPayload('index.docker.io/library/nginx', `sha256:${H}`);
  assert.equal(
    p.toString(),
    `{"critical":{"identity":{"docker-reference":"index.docker.io/library/nginx"},"image":{"docker-manifest-digest":"sha256:${H}"},"type":"cosign container image signature"},"optional":null}`,
  );
  const withOpt = buildSimpleSigningPayload('r/x', `sha256:${H}`, { z: '1', a: '<&>' });
  assert.ok(withOpt.toString().endsWith(`"optional":{"a":"\\u003c\\u0026\\u003e","z":"1"}}`));
  assert.deepEqual(parseSimpleSigningPayload(withOpt), {
    dockerReference: 'r/x',
    digest: `sha256:${H}`,
    optional: { a: '<&>', z: '1' },
  });
  const bad = [
    '{}',
    'not json',
    '{"critical":{"identity":{"docker-reference":"x"},"image":{"docker-manifest-digest":"sha256:00"},"type":"cosign container image signature"}}',
    `{"critical":{"identity":{"docker-reference":"x"},"image":{"docker-manifest-digest":"sha256:${H}"},"type":"other"}}`,
    `{"critical":{"image":{"docker-manifest-digest":"sha256:${H}"},"type":"cosign container image signature"}}`,
  ];
  for (const b of bad)
    assert.throws(
      () => parseSimpleSigningPayload(Buffer.from(b)),
      (e: unknown) => isSigilError(e, 'INVALID_INPUT'),
      b,
    );
  assert.equal(attachmentTag(`sha256:${H}`), `sha256-${H}.sig`);
  assert.equal(
    triangulate(parseReference(`ghcr.io/o/a@sha256:${H}`), 'att').toString(),
    `ghcr.io/o/a:sha256-${H}.att`,
  );
  assert.throws(
    () => triangulate(parseReference('ghcr.io/o/a:v1')),
    (e: unknown) => isSigilError(e, 'INVALID_REFERENCE'),
  );
});

test('cosign layout on docker-registry: two signatures accumulate, dedupe, attestations, skopeo sees the .sig tag and copies it', async (t) => {
  if (!requireBinary(t, 'skopeo')) return;
  const reg = await startDockerRegistry(t);
  if (!reg) return;
  const scratch = mkdtempSync(join(reg.dataDir, '..', 'scratch-'));
  const env = skopeoEnv();
  t.after(async () => {
    rmSync(env.dir, { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
    await reg.stop();
  });
  const client = new RegistryClient();

  // the image is pushed with skopeo from an OCI layout directory
  const img = tinyImage('cosign-test');
  const layout = join(scratch, 'layout');
  writeOciLayout(layout, img, 'v1');
  await skopeo(env.args, [
    'copy',
    '--dest-tls-verify=false',
    `oci:${layout}:v1`,
    `docker://${reg.host}/org/app:v1`,
  ]);
  const tagRef = parseReference(`${reg.host}/org/app:v1`);
  const digest = await client.resolveDigest(tagRef);
  assert.equal(digest, img.digest);
  const image = tagRef.withDigest(digest);

  const sigs = [];
  for (let i = 0; i < 2; i++) {
    const { privateKey } = generateP256();
    const payload = buildSimpleSigningPayload(image.dockerReference(), digest, i === 1 ? { run: '2' } : null);
    const signature = toBase64(signData(privateKey, payload));
    const input = {
      payload,
      signature,
      certificate: `-----BEGIN CERTIFICATE-----\nMIIB${i}\n-----END CERTIFICATE-----\n`,
      chain: 'chain-pem',
      bundle: `{"SignedEntryTimestamp":"c2V0${i}","Payload":{"body":"e30=","integratedTime":1,"logIndex":${i},"logID":"00"}}`,
    };
    sigs.push(input);
    const res = await writeSignature(client, image, input);
    assert.equal(res.added, true);
    assert.equal(res.layers, i + 1);
  }
  // writing the same signature again changes nothing
  const again = await writeSignature(client, image, sigs[0]!);
  assert.equal(again.added, false);
  assert.equal(again.layers, 2);

  const read = await readSignatures(client, image);
  assert.equal(read.length, 2);
  for (let i = 0; i < 2; i++) {
    assert.deepEqual(read[i]!.payload, sigs[i]!.payload);
    assert.equal(read[i]!.signature, sigs[i]!.signature);
    assert.equal(read[i]!.certificate, sigs[i]!.certificate);
    assert.equal(read[i]!.chain, 'chain-pem');
    assert.equal(read[i]!.bundle, sigs[i]!.bundle);
    assert.equal(read[i]!.mediaType, MEDIA_TYPES.cosignSimpleSigning);
    assert.equal(parseSimpleSigningPayload(read[i]!.payload).digest, digest);
  }
  // an unsigned image has no signatures (empty, not an error)
  const unsigned = tinyImage('unsigned');
  const unsignedRef = parseReference(`${reg.host}/org/app:unsigned`);
  await pushImage(client, unsignedRef, unsigned);
  assert.deepEqual(await readSignatures(client, unsignedRef.withDigest(unsigned.digest)), []);

  // an attestation
  const envelope = Buffer.from(
    JSON.stringify({
      payloadType: 'application/vnd.in-toto+json',
      payload: 'e30=',
      signatures: [{ sig: 'AA==' }],
    }),
  );
  await writeAttestation(client, image, { envelope, predicateType: 'https://slsa.dev/provenance/v1' });
  const atts = await readAttestations(client, image);
  assert.equal(atts.length, 1);
  assert.equal(atts[0]!.predicateType, 'https://slsa.dev/provenance/v1');
  assert.deepEqual(atts[0]!.payload, envelope);

  // skopeo sees the .sig tag
  const listed = await skopeo(env.args, ['list-tags', '--tls-verify=false', `docker://${reg.host}/org/app`]);
  const tags = JSON.parse(listed.stdout) as { Tags: string[] };
  assert.ok(tags.Tags.includes(attachmentTag(digest)));
  const raw = await skopeo(env.args, [
    'inspect',
    '--raw',
    '--tls-verify=false',
    `docker://${triangulate(image).toString()}`,
  ]);
  const inspect = JSON.parse(raw.stdout) as { layers: { annotations: Record<string, string> }[] };
  assert.equal(inspect.layers.length, 2);
  assert.equal(inspect.layers[1]!.annotations[COSIGN_ANNOTATIONS.signature], sigs[1]!.signature);

  // the tree
  const tree = await describeAttachments(client, tagRef);
  assert.equal(tree.digest, digest);
  assert.equal(tree.sig?.layers.length, 2);
  assert.equal(tree.att?.layers.length, 1);
  assert.equal(tree.sbom, undefined);

  // interop: skopeo with use-sigstore-attachments copies image + signatures to another repository
  await skopeo(env.args, [
    'copy',
    '--all',
    '--src-tls-verify=false',
    '--dest-tls-verify=false',
    `docker://${reg.host}/org/app:v1`,
    `docker://${reg.host}/mirror/app:v1`,
  ]);
  const copyRef = parseReference(`${reg.host}/mirror/app:v1`);
  const copyDigest = await client.resolveDigest(copyRef);
  assert.equal(copyDigest, digest);
  const copied = await readSignatures(client, copyRef.withDigest(copyDigest));
  assert.equal(copied.length, 2);
  for (let i = 0; i < 2; i++) {
    assert.deepEqual(copied[i]!.payload, sigs[i]!.payload);
    assert.equal(copied[i]!.signature, sigs[i]!.signature);
    assert.equal(copied[i]!.certificate, sigs[i]!.certificate);
    assert.equal(copied[i]!.chain, sigs[i]!.chain);
    assert.equal(copied[i]!.bundle, sigs[i]!.bundle);
  }
});
