import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSigilError } from '../../src/errors/index.js';
import { parseBundle } from '../../src/bundle/index.js';
import { parseSignedNote } from '../../src/bundle/signed-note.js';
import { parseAdmissionReview } from '../../src/admission/review.js';
import { extractImages } from '../../src/admission/resources.js';
import { parseManifest } from '../../src/oci/manifest.js';
import { parseSctList } from '../../src/x509/sct.js';
import { parseJsonBounded } from '../../src/server/json-depth.js';

/** A count bomb must be refused with a coded error, fast (before the work it asks for). */
function refusedFast(what: string, because: RegExp, fn: () => unknown, ms = 3000): void {
  const started = performance.now();
  assert.throws(
    fn,
    (e: unknown) => isSigilError(e) && because.test(e.message),
    `${what}: refused with a SigilError matching ${because}`,
  );
  const took = performance.now() - started;
  assert.ok(took < ms, `${what}: refused in ${took.toFixed(0)} ms`);
}

const b64 = (n: number): string => Buffer.alloc(n, 1).toString('base64');

// ADMISSION-SURVEY §8: GHSA-cq38-jh5f-37mq (sigstore-go), CVE-2023-46737 / CVE-2024-29902 (cosign),
// CVE-2023-42813..16 (Kyverno Notary), CVE-2026-32280 (chains), and JSON nesting.
test('count and size bombs from the advisories are refused fast with coded errors', () => {
  const tlogEntry = {
    logIndex: '1',
    logId: { keyId: b64(32) },
    kindVersion: { kind: 'hashedrekord', version: '0.0.1' },
    integratedTime: '1',
    canonicalizedBody: b64(10),
    inclusionProof: {
      logIndex: '1',
      rootHash: b64(32),
      treeSize: '2',
      hashes: [b64(32)],
      checkpoint: { envelope: 'x' },
    },
  };
  const bundle = (over: Record<string, unknown>) => ({
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: { certificate: { rawBytes: b64(100) }, tlogEntries: [tlogEntry] },
    messageSignature: { messageDigest: { algorithm: 'SHA2_256', digest: b64(32) }, signature: b64(70) },
    ...over,
  });
  refusedFast('bundle with 10,000 tlog entries', /tlogEntries: has more than 8/, () =>
    parseBundle(
      bundle({
        verificationMaterial: {
          certificate: { rawBytes: b64(100) },
          tlogEntries: Array(10_000).fill(tlogEntry),
        },
      }),
    ),
  );
  refusedFast('bundle with a 1,000-certificate chain', /certificates: has more than 12/, () =>
    parseBundle(
      bundle({
        mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.2',
        verificationMaterial: {
          x509CertificateChain: { certificates: Array(1000).fill({ rawBytes: b64(100) }) },
          tlogEntries: [tlogEntry],
        },
      }),
    ),
  );
  refusedFast('bundle with 10,000 DSSE signatures', /signatures: has more than 16/, () =>
    parseBundle(
      bundle({
        messageSignature: undefined,
        dsseEnvelope: {
          payload: b64(10),
          payloadType: 'application/vnd.in-toto+json',
          signatures: Array(10_000).fill({ sig: b64(70), keyid: '' }),
        },
      }),
    ),
  );
  refusedFast('bundle with 10,000 proof hashes', /hashes: has more than 64/, () =>
    parseBundle(
      bundle({
        verificationMaterial: {
          certificate: { rawBytes: b64(100) },
          tlogEntries: [
            {
              ...tlogEntry,
              inclusionProof: {
                logIndex: '1',
                rootHash: b64(32),
                treeSize: '2',
                hashes: Array(10_000).fill(b64(32)),
                checkpoint: { envelope: 'x' },
              },
            },
          ],
        },
      }),
    ),
  );
  refusedFast('checkpoint with 10,000 signature lines', /too many note signatures/, () =>
    parseSignedNote(`origin\n1\n${b64(32)}\n\n${`\u2014 name ${b64(68)}\n`.repeat(10_000)}`),
  );
  const desc = { mediaType: 'x', digest: `sha256:${'0'.repeat(64)}`, size: 1 };
  const layersBomb = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: desc,
      layers: Array(30_000).fill(desc),
    }),
  );
  const indexBomb = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: Array(30_000).fill(desc),
    }),
  );
  refusedFast('manifest with 30,000 layers (3 MB, under the size cap)', /more than 1000 layers/, () =>
    parseManifest(layersBomb),
  );
  refusedFast('index with 30,000 manifests (a referrers bomb)', /more than 1000 manifests/, () =>
    parseManifest(indexBomb),
  );
  const sct = Buffer.concat([
    Buffer.from([0]),
    Buffer.alloc(32),
    Buffer.alloc(8),
    Buffer.from([0, 0, 4, 3, 0, 2, 0, 0]),
  ]);
  const many = Buffer.concat(Array(1000).fill(Buffer.concat([Buffer.from([0, sct.length]), sct])));
  const len = Buffer.alloc(2);
  len.writeUInt16BE(Math.min(many.length, 0xffff));
  refusedFast('SCT list with 1,000 SCTs', /too many SCTs/, () =>
    parseSctList(Buffer.concat([len, many.subarray(0, 0xffff)])),
  );
  refusedFast('JSON nested 100,000 deep', /deeper than 64/, () =>
    parseJsonBounded('['.repeat(100_000) + ']'.repeat(100_000)),
  );
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p' },
    spec: {
      containers: Array.from({ length: 10_000 }, (_, i) => ({ name: `c${i}`, image: `r.example/x:${i}` })),
    },
  };
  const parsed = parseAdmissionReview({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'u',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      operation: 'CREATE',
      namespace: 'd',
      object: pod,
    },
  });
  refusedFast('pod with 10,000 containers', /more than 256 container images/, () =>
    extractImages('Pod', parsed.input.object),
  );
});
