/* eslint-disable @typescript-eslint/no-explicit-any -- raw registry JSON is checked field by field */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  RegistryClient,
  parseReference,
  pushImage,
  tinyImage,
  buildImage,
  computeDigest,
  readBundleReferrers,
  pushBundleReferrer,
  fallbackTag,
  readImageSignatures,
  MEDIA_TYPES,
  type ImageReference,
} from '../../src/oci/index.js';
import { createRegistryServer } from '../../src/demo/registry/index.js';
import { signImageBundle, verifyImageSignatures } from '../../src/sign/index.js';
import { BUNDLE_TYPE, keylessBuilder, SIGN_PREDICATE, WORKFLOW_RE } from './helpers.js';
import { createTrustMaterial } from '../../src/verify/index.js';
import { isSigilError } from '../../src/errors/index.js';
import { startDockerRegistry } from '../helpers/registry.js';
import { startStack, type Stack } from '../e2e/stack.js';

const EMPTY_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

async function rawGet(url: string): Promise<{ status: number; type: string; json: any }> {
  const r = await fetch(url, { headers: { accept: `${MEDIA_TYPES.ociIndex}, ${MEDIA_TYPES.ociManifest}` } });
  const text = await r.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.status, type: r.headers.get('content-type') ?? '', json };
}

/** Field-by-field check of a referrer manifest against the OCI image spec 1.1 and cosign v3's shape. */
async function checkReferrerManifest(
  base: string,
  repo: string,
  manifestDigest: string,
  image: { digest: string; size: number; mediaType: string },
): Promise<any> {
  const m = await rawGet(`${base}/v2/${repo}/manifests/${manifestDigest}`);
  assert.equal(m.status, 200);
  const doc = m.json;
  assert.equal(doc.schemaVersion, 2);
  assert.equal(doc.mediaType, MEDIA_TYPES.ociManifest);
  assert.equal(doc.artifactType, BUNDLE_TYPE);
  assert.deepEqual(doc.config, { mediaType: MEDIA_TYPES.ociEmpty, digest: EMPTY_DIGEST, size: 2 });
  const cfg = await fetch(`${base}/v2/${repo}/blobs/${EMPTY_DIGEST}`);
  assert.equal(await cfg.text(), '{}');
  assert.equal(doc.layers.length, 1);
  assert.equal(doc.layers[0].mediaType, BUNDLE_TYPE);
  const layer = Buffer.from(
    await (await fetch(`${base}/v2/${repo}/blobs/${doc.layers[0].digest}`)).arrayBuffer(),
  );
  assert.equal(computeDigest(layer), doc.layers[0].digest);
  assert.equal(layer.length, doc.layers[0].size);
  assert.deepEqual(doc.subject, image);
  assert.deepEqual(Object.keys(doc.annotations).sort(), [
    'dev.sigstore.bundle.content',
    'dev.sigstore.bundle.predicateType',
    'org.opencontainers.image.created',
  ]);
  assert.equal(doc.annotations['dev.sigstore.bundle.content'], 'dsse-envelope');
  assert.equal(doc.annotations['dev.sigstore.bundle.predicateType'], SIGN_PREDICATE);
  assert.match(doc.annotations['org.opencontainers.image.created'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  const bundle = JSON.parse(layer.toString('utf8'));
  assert.equal(bundle.mediaType, BUNDLE_TYPE);
  assert.equal(bundle.dsseEnvelope.payloadType, 'application/vnd.in-toto+json');
  const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8'));
  assert.equal(statement._type, 'https://in-toto.io/Statement/v1');
  assert.equal(statement.predicateType, SIGN_PREDICATE);
  assert.deepEqual(statement.predicate, {});
  assert.deepEqual(statement.subject, [
    { digest: { sha256: image.digest.slice(7) }, annotations: { env: 'prod' } },
  ]);
  return { doc, layer };
}

async function signAndCheck(
  t: { after(fn: () => Promise<void>): void },
  stack: Stack,
  base: string,
  host: string,
  via: 'referrers-api' | 'fallback-tag',
): Promise<void> {
  const client = new RegistryClient();
  const ref = parseReference(`${host}/org/v3-app:v1`);
  const image = tinyImage(`v3 ${via}`);
  const digest = await pushImage(client, ref, image);
  const pinned = ref.withDigest(digest);
  const [r] = await signImageBundle({
    client,
    image: pinned,
    builder: await keylessBuilder(stack),
    annotations: { env: 'prod' },
  });
  assert.equal(r!.pushed.via, via);
  const subject = { mediaType: MEDIA_TYPES.ociManifest, digest, size: image.manifestBytes.length };
  await checkReferrerManifest(base, 'org/v3-app', r!.pushed.ref.digest!, subject);
  const tag = await rawGet(`${base}/v2/org/v3-app/manifests/${fallbackTag(digest)}`);
  const api = await rawGet(`${base}/v2/org/v3-app/referrers/${digest}`);
  if (via === 'referrers-api') {
    assert.equal(api.status, 200);
    assert.equal(api.type, MEDIA_TYPES.ociIndex);
    assert.equal(api.json.manifests.length, 1);
    assert.equal(api.json.manifests[0].digest, r!.pushed.ref.digest);
    assert.equal(api.json.manifests[0].artifactType, BUNDLE_TYPE);
    assert.equal(tag.status, 404, 'no fallback tag where the referrers API indexes the referrer');
  } else {
    assert.equal(api.status, 404, 'docker-registry 2.8 has no referrers API');
    assert.equal(tag.status, 200);
    assert.equal(tag.json.schemaVersion, 2);
    assert.equal(tag.json.mediaType, MEDIA_TYPES.ociIndex);
    assert.equal(tag.json.manifests.length, 1);
    const e = tag.json.manifests[0];
    assert.equal(e.mediaType, MEDIA_TYPES.ociManifest);
    assert.equal(e.digest, r!.pushed.ref.digest);
    assert.equal(e.artifactType, BUNDLE_TYPE);
    assert.equal(e.annotations['dev.sigstore.bundle.predicateType'], SIGN_PREDICATE);
    const bytes = await fetch(`${base}/v2/org/v3-app/manifests/${e.digest}`, {
      headers: { accept: MEDIA_TYPES.ociManifest },
    });
    assert.equal(e.size, (await bytes.arrayBuffer()).byteLength);
  }
  // Read back and verify through the same path as `sigil verify`.
  const trust = createTrustMaterial(JSON.stringify(stack.trustedRootJson));
  const sigs = await readImageSignatures(client, pinned);
  assert.equal(sigs.bundles.length, 1);
  assert.equal(sigs.bundles[0]!.via, via);
  const policy = { identities: [{ subjectRegExp: WORKFLOW_RE, issuer: stack.oidc.issuer }] };
  const v = verifyImageSignatures(trust, digest, sigs, policy, {}, { env: 'prod' });
  assert.equal(v.bundles.length, 1);
  assert.throws(
    () => verifyImageSignatures(trust, digest, sigs, policy, {}, { env: 'dev' }),
    (e: unknown) => isSigilError(e) && /annotation env is not "dev"/.test(e.message),
  );
  // The bundle names this digest only: presented for another image it fails.
  const other = await pushImage(client, parseReference(`${host}/org/v3-app:other`), tinyImage('other'));
  assert.throws(
    () =>
      verifyImageSignatures(
        trust,
        other,
        { ...sigs, bundles: sigs.bundles.map((b) => ({ ...b, subject: other })) },
        policy,
        {},
      ),
    (e: unknown) => isSigilError(e, 'DIGEST_MISMATCH'),
  );
  void t;
}

test('sign (v3 default) on the embedded registry: an OCI 1.1 referrer, served by GET /v2/<name>/referrers/<digest>, verified back', async (t) => {
  const stack = await startStack();
  const reg = await createRegistryServer({ port: 0, logLevel: 'silent' });
  t.after(async () => {
    await reg.close();
    await stack.close();
  });
  await signAndCheck(t, stack, reg.url, reg.host, 'referrers-api');
});

test("sign (v3 default) on Debian's docker-registry: the fallback tag sha256-<hex> index, verified back", async (t) => {
  const registry = await startDockerRegistry(t);
  if (!registry) return;
  const stack = await startStack();
  t.after(async () => {
    await stack.close();
    await registry.stop();
  });
  await signAndCheck(t, stack, registry.url, registry.host, 'fallback-tag');
});

function fakeBundle(i: number): Buffer {
  return Buffer.from(JSON.stringify({ mediaType: BUNDLE_TYPE, n: i }), 'utf8');
}

async function subjectOf(client: RegistryClient, ref: ImageReference) {
  const got = await client.getManifest(ref);
  return { mediaType: got.mediaType, digest: got.digest, size: got.bytes.length };
}

test("parallel signers on docker-registry: the fallback index keeps every signer's entry and another tool's", async (t) => {
  const registry = await startDockerRegistry(t);
  if (!registry) return;
  t.after(() => registry.stop());
  const client = new RegistryClient();
  const ref = parseReference(`${registry.host}/org/race:v1`);
  const digest = await pushImage(client, ref, tinyImage('race'));
  const subject = await subjectOf(client, ref.withDigest(digest));
  // Someone else's referrer (an SBOM) already in the index.
  const empty = Buffer.from('{}');
  const sbom = Buffer.from('{"spdxVersion":"SPDX-2.3"}');
  await client.putBlob(ref, empty);
  await client.putBlob(ref, sbom);
  const foreign = buildImage(
    { mediaType: MEDIA_TYPES.ociEmpty, bytes: empty },
    [{ mediaType: 'application/spdx+json', bytes: sbom }],
    {
      artifactType: 'application/spdx+json',
      subject,
    },
  );
  await client.pushReferrer(ref, foreign.manifestBytes, foreign.mediaType);
  const N = 8;
  const pushed = await Promise.all(
    Array.from({ length: N }, (_, i) =>
      pushBundleReferrer(new RegistryClient(), ref, {
        subject,
        bundle: fakeBundle(i),
        predicateType: SIGN_PREDICATE,
      }),
    ),
  );
  const index = await rawGet(`${registry.url}/v2/org/race/manifests/${fallbackTag(digest)}`);
  const listed = index.json.manifests.map((d: { digest: string }) => d.digest);
  for (const p of pushed) assert.ok(listed.includes(p.ref.digest), `signer ${p.ref.digest} kept`);
  assert.ok(listed.includes(foreign.digest), "the other tool's descriptor kept");
  assert.equal(listed.length, N + 1);
  assert.deepEqual(listed, [...listed].sort(), 'sorted by digest');
  // The reader takes the eight bundles and skips the SBOM (its manifest says what it is).
  const found = await readBundleReferrers(client, ref.withDigest(digest));
  assert.equal(found.length, N);
  assert.deepEqual(
    new Set(found.map((f) => JSON.parse(f.bytes.toString()).n)),
    new Set([...Array(N).keys()]),
  );
});

test('--registry-referrers-mode: oci-1-1 refuses a registry without the API; legacy writes the fallback tag even where the API exists', async (t) => {
  const registry = await startDockerRegistry(t);
  if (!registry) return;
  const reg = await createRegistryServer({ port: 0, logLevel: 'silent' });
  t.after(async () => {
    await reg.close();
    await registry.stop();
  });
  const client = new RegistryClient();
  const dref = parseReference(`${registry.host}/org/mode:v1`);
  const dd = await pushImage(client, dref, tinyImage('mode d'));
  await assert.rejects(
    pushBundleReferrer(
      client,
      dref,
      {
        subject: await subjectOf(client, dref.withDigest(dd)),
        bundle: fakeBundle(1),
        predicateType: SIGN_PREDICATE,
      },
      'oci-1-1',
    ),
    (e: unknown) => isSigilError(e, 'REGISTRY_ERROR') && /lacks the OCI 1.1 referrers API/.test(e.message),
  );
  const eref = parseReference(`${reg.host}/org/mode:v1`);
  const ed = await pushImage(client, eref, tinyImage('mode e'));
  const p = await pushBundleReferrer(
    client,
    eref,
    {
      subject: await subjectOf(client, eref.withDigest(ed)),
      bundle: fakeBundle(2),
      predicateType: SIGN_PREDICATE,
    },
    'legacy',
  );
  assert.equal(p.via, 'fallback-tag');
  const tag = await rawGet(`${reg.url}/v2/org/mode/manifests/${fallbackTag(ed)}`);
  assert.deepEqual(
    tag.json.manifests.map((d: { digest: string }) => d.digest),
    [p.ref.digest],
  );
});
