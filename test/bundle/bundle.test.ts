import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import fc from 'fast-check';
import { PUBLIC_SIGSTORE_DIR, requireSharedFile } from '../helpers/env.js';
import { isSigilError, type ErrorCode } from '../../src/errors/index.js';
import {
  BUNDLE_V03_MEDIA_TYPE,
  bundleToJson,
  cosignLayerToItem,
  cosignRekorBundleAnnotation,
  createBundleV03,
  parseBundle,
  parseCosignRekorBundle,
  parseTrustedRoot,
  setPayloadOf,
  tlogEntryFromRekor,
  tlogEntryToJson,
  trustedRootToJson,
} from '../../src/bundle/index.js';

const DIR = PUBLIC_SIGSTORE_DIR;
const fixtures = (): [string, string][] =>
  readdirSync(DIR)
    .filter((f) => f.endsWith('.sigstore'))
    .map((f) => [f, readFileSync(DIR + f, 'utf8')]);

function throwsCode(fn: () => unknown, code: ErrorCode, re?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isSigilError(e), `expected SigilError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  });
}

test('the nine public bundles parse and serialize back to the same JSON', (t) => {
  if (!requireSharedFile(t, DIR + 'trusted_root.json')) return;
  const files = fixtures();
  assert.equal(files.length, 9);
  const versions = new Set<string>();
  for (const [name, text] of files) {
    const b = parseBundle(text);
    versions.add(b.version);
    assert.equal(b.content.kind, 'dsseEnvelope', name);
    assert.equal(b.verificationMaterial.tlogEntries.length, 1);
    assert.deepEqual(bundleToJson(b), JSON.parse(text), name);
  }
  assert.deepEqual([...versions].sort(), ['0.1', '0.2', '0.3']);
});

test('the public trusted root parses, round-trips, and accepts all three media types', (t) => {
  if (!requireSharedFile(t, DIR + 'trusted_root.json')) return;
  const json = JSON.parse(readFileSync(DIR + 'trusted_root.json', 'utf8'));
  const root = parseTrustedRoot(json);
  assert.equal(root.tlogs.length, 2);
  assert.equal(root.ctlogs.length, 2);
  assert.equal(root.certificateAuthorities.length, 2);
  assert.equal(root.certificateAuthorities[0]!.validFor.end?.toISOString(), '2022-12-31T23:59:59.999Z');
  assert.equal(root.tlogs[0]!.logId.toString('base64'), 'wNI9atQGlz+VWfO6LRygH4QUfY/8W4RFwiT5i5WRgB0=');
  assert.deepEqual(parseTrustedRoot(trustedRootToJson(root)), root);
  for (const mt of [
    'application/vnd.dev.sigstore.trustedroot.v0.2+json',
    'application/vnd.dev.sigstore.trustedroot.v0.1+json',
    'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
  ]) {
    assert.equal(parseTrustedRoot({ ...json, mediaType: mt }).mediaType, mt);
  }
  throwsCode(
    () => parseTrustedRoot({ ...json, mediaType: 'application/json' }),
    'INVALID_INPUT',
    /media type/,
  );
  throwsCode(
    () => parseTrustedRoot({ ...json, tlogs: [{ baseUrl: 'x' }] }),
    'INVALID_INPUT',
    /tlogs\[0\]\.publicKey/,
  );
  throwsCode(() => parseTrustedRoot('{'), 'INVALID_JSON');
});

test('bad bundles are refused with coded errors naming the field', (t) => {
  if (!requireSharedFile(t, DIR + 'trusted_root.json')) return;
  const good = JSON.parse(readFileSync(DIR + 'bundleV03-dsse.sigstore', 'utf8'));
  const v01 = JSON.parse(readFileSync(DIR + 'bundleV01-dsse-no-proof.sigstore', 'utf8'));
  const clone = (): typeof good => structuredClone(good);
  throwsCode(() => parseBundle('not json'), 'INVALID_JSON');
  throwsCode(() => parseBundle(42), 'INVALID_BUNDLE');
  throwsCode(
    () => parseBundle({ ...clone(), mediaType: 'application/vnd.dev.sigstore.bundle.v0.4+json' }),
    'INVALID_BUNDLE',
    /media type/,
  );
  const noContent = clone();
  delete noContent.dsseEnvelope;
  throwsCode(() => parseBundle(noContent), 'INVALID_BUNDLE', /messageSignature, dsseEnvelope/);
  const both = { ...clone(), messageSignature: { signature: 'AAAA' } };
  throwsCode(() => parseBundle(both), 'INVALID_BUNDLE', /exactly one/);
  const badB64 = clone();
  badB64.verificationMaterial.certificate.rawBytes = 'not*base64';
  throwsCode(() => parseBundle(badB64), 'INVALID_BUNDLE', /certificate\.rawBytes/);
  const noProof = clone();
  delete noProof.verificationMaterial.tlogEntries[0].inclusionProof;
  throwsCode(() => parseBundle(noProof), 'INVALID_BUNDLE', /inclusionProof/);
  const noPromise = structuredClone(v01);
  delete noPromise.verificationMaterial.tlogEntries[0].inclusionPromise;
  throwsCode(() => parseBundle(noPromise), 'INVALID_BUNDLE', /inclusionPromise/);
  const manyEntries = clone();
  manyEntries.verificationMaterial.tlogEntries = Array(9).fill(good.verificationMaterial.tlogEntries[0]);
  throwsCode(() => parseBundle(manyEntries), 'INVALID_BUNDLE', /more than 8/);
  const longChain = structuredClone(v01);
  longChain.verificationMaterial.x509CertificateChain.certificates = Array(13).fill({ rawBytes: 'AAAA' });
  throwsCode(() => parseBundle(longChain), 'INVALID_BUNDLE', /more than 12/);
  const chainInV03 = { ...clone(), verificationMaterial: { ...v01.verificationMaterial } };
  throwsCode(() => parseBundle(chainInV03), 'INVALID_BUNDLE', /single certificate/);
  const badIndex = clone();
  badIndex.verificationMaterial.tlogEntries[0].logIndex = '-1';
  throwsCode(() => parseBundle(badIndex), 'INVALID_BUNDLE', /logIndex/);
  const shortLogId = clone();
  shortLogId.verificationMaterial.tlogEntries[0].logId.keyId = 'AAAA';
  throwsCode(() => parseBundle(shortLogId), 'INVALID_BUNDLE', /32 bytes/);
  throwsCode(() => parseBundle('x'.repeat(33 * 1024 * 1024)), 'TOO_LARGE');
  // null stands for an absent message (old v0.1 writers)
  const withNulls = { ...structuredClone(v01), messageSignature: null };
  withNulls.verificationMaterial.tlogEntries[0].inclusionProof = null;
  withNulls.verificationMaterial.timestampVerificationData = null;
  assert.equal(parseBundle(withNulls).version, '0.1');
});

test('a v0.3 bundle can be built and written', (t) => {
  if (!requireSharedFile(t, DIR + 'trusted_root.json')) return;
  const src = parseBundle(readFileSync(DIR + 'bundleV03-dsse.sigstore', 'utf8'));
  const vm = src.verificationMaterial.content;
  assert.equal(vm.kind, 'certificate');
  const b = createBundleV03({
    certificate: vm.kind === 'certificate' ? vm.certificate : Buffer.alloc(0),
    tlogEntries: src.verificationMaterial.tlogEntries,
    content: {
      kind: 'messageSignature',
      messageDigest: { algorithm: 'SHA2_256', digest: Buffer.alloc(32, 7) },
      signature: Buffer.from([1, 2, 3]),
    },
  });
  assert.equal(b.mediaType, BUNDLE_V03_MEDIA_TYPE);
  const json = bundleToJson(b) as { messageSignature: { messageDigest: { digest: string } } };
  assert.equal(json.messageSignature.messageDigest.digest, Buffer.alloc(32, 7).toString('base64'));
  throwsCode(() => createBundleV03({ tlogEntries: [], content: b.content }), 'INVALID_BUNDLE');
});

test('a Rekor v1 response entry converts to the bundle entry (hex → base64, integers → strings)', (t) => {
  if (!requireSharedFile(t, DIR + 'trusted_root.json')) return;
  const b = parseBundle(readFileSync(DIR + 'bundleV02-dsse.sigstore', 'utf8'));
  const e = b.verificationMaterial.tlogEntries[0]!;
  const p = e.inclusionProof!;
  const rekor = {
    c0ffee: {
      body: e.canonicalizedBody.toString('base64'),
      integratedTime: e.integratedTime,
      logID: e.logId.toString('hex'),
      logIndex: e.logIndex,
      verification: {
        signedEntryTimestamp: e.inclusionPromise!.signedEntryTimestamp.toString('base64'),
        inclusionProof: {
          logIndex: p.logIndex,
          rootHash: p.rootHash.toString('hex'),
          treeSize: p.treeSize,
          hashes: p.hashes.map((h) => h.toString('hex')),
          checkpoint: p.checkpoint,
        },
      },
    },
  };
  assert.deepEqual(tlogEntryToJson(tlogEntryFromRekor(rekor)), tlogEntryToJson(e));
  assert.deepEqual(tlogEntryFromRekor(JSON.stringify(rekor)), tlogEntryFromRekor(rekor.c0ffee));
  throwsCode(() => tlogEntryFromRekor({ ...rekor.c0ffee, logID: 'zz' }), 'INVALID_ENTRY', /logID/);
  throwsCode(
    () => tlogEntryFromRekor({ ...rekor.c0ffee, body: Buffer.from('[]').toString('base64') }),
    'INVALID_ENTRY',
    /body/,
  );
  assert.deepEqual(setPayloadOf(e), {
    body: e.canonicalizedBody.toString('base64'),
    integratedTime: 1689177043,
    logID: 'c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d',
    logIndex: 27246114,
  });
});

test('cosign layer annotations convert into a verifiable item', (t) => {
  if (!requireSharedFile(t, DIR + 'trusted_root.json')) return;
  const b = parseBundle(readFileSync(DIR + 'bundleV01-dsse-no-proof.sigstore', 'utf8'));
  const e = b.verificationMaterial.tlogEntries[0]!;
  const certs =
    b.verificationMaterial.content.kind === 'x509CertificateChain'
      ? b.verificationMaterial.content.certificates
      : [];
  const pem = (der: Buffer): string =>
    `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n-----END CERTIFICATE-----\n`;
  const digest = 'sha256:' + 'ab'.repeat(32);
  const payload = Buffer.from(
    `{"critical":{"identity":{"docker-reference":"localhost:5000/org/app"},"image":{"docker-manifest-digest":"${digest}"},"type":"cosign container image signature"},"optional":null}`,
  );
  const annotation = cosignRekorBundleAnnotation(e);
  assert.deepEqual(parseCosignRekorBundle(annotation), e);
  const item = cosignLayerToItem({
    payload,
    annotations: {
      'dev.cosignproject.cosign/signature': Buffer.from('sig').toString('base64'),
      'dev.sigstore.cosign/certificate': pem(certs[0]!),
      'dev.sigstore.cosign/chain': '',
      'dev.sigstore.cosign/bundle': annotation,
    },
  });
  assert.equal(item.simpleSigning.dockerManifestDigest, digest);
  assert.equal(item.simpleSigning.type, 'cosign container image signature');
  assert.equal(item.simpleSigning.optional, null);
  assert.deepEqual(item.certificate, certs[0]);
  assert.equal(item.bundle.content.kind, 'messageSignature');
  assert.equal(item.bundle.verificationMaterial.tlogEntries[0]!.logIndex, e.logIndex);
  throwsCode(() => cosignLayerToItem({ payload, annotations: {} }), 'INVALID_SIGNATURE', /signature/);
  throwsCode(
    () =>
      cosignLayerToItem({
        payload: Buffer.from('{}'),
        annotations: { 'dev.cosignproject.cosign/signature': 'AAAA' },
      }),
    'INVALID_INPUT',
    /critical/,
  );
  throwsCode(
    () =>
      cosignLayerToItem({
        payload,
        annotations: {
          'dev.cosignproject.cosign/signature': 'AAAA',
          'dev.sigstore.cosign/bundle': '{"Payload":{}}',
        },
      }),
    'INVALID_BUNDLE',
  );
});

test('parsers throw only SigilError on random input', () => {
  const anyJson = fc.jsonValue({ maxDepth: 6 });
  const parsers: ((v: unknown) => unknown)[] = [
    parseBundle,
    parseTrustedRoot,
    tlogEntryFromRekor,
    (v) => parseCosignRekorBundle(JSON.stringify(v)),
    (v) =>
      cosignLayerToItem({
        payload: Buffer.from(JSON.stringify(v)),
        annotations: { 'dev.cosignproject.cosign/signature': 'AAAA' },
      }),
  ];
  for (const parse of parsers) {
    fc.assert(
      fc.property(fc.oneof(anyJson, fc.string(), fc.uint8Array()), (v) => {
        try {
          parse(v);
        } catch (e) {
          if (!isSigilError(e)) throw e;
        }
      }),
      { numRuns: 300 },
    );
  }
});

test('mutated real bundles throw only SigilError', (t) => {
  if (!requireSharedFile(t, DIR + 'trusted_root.json')) return;
  const text = readFileSync(DIR + 'bundleV02-intoto.sigstore', 'utf8');
  fc.assert(
    fc.property(fc.nat(text.length - 1), fc.string({ minLength: 0, maxLength: 3 }), (pos, s) => {
      try {
        parseBundle(text.slice(0, pos) + s + text.slice(pos + 1));
      } catch (e) {
        if (!isSigilError(e)) throw e;
      }
    }),
    { numRuns: 500 },
  );
});
