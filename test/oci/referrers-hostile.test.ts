import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  RegistryClient,
  computeDigest,
  parseReference,
  readBundleReferrers,
  MEDIA_TYPES,
} from '../../src/oci/index.js';
import { isSigilError } from '../../src/errors/index.js';
import { parsePolicyText } from '../../src/admission/policy/index.js';
import { createAdmissionServer } from '../../src/admission/server.js';
import { registryImageSource, SigstoreSignatureVerifier } from '../../src/admission/real-verifier.js';
import { parseTrustedRoot, TRUSTED_ROOT_MEDIA_TYPE } from '../../src/bundle/index.js';
import { pod, postJson, review } from '../admission/helpers.js';
import { BUNDLE_TYPE, clusterPolicy } from './helpers.js';

const EMPTY = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';
const IMAGE_BYTES = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: { mediaType: MEDIA_TYPES.ociConfig, digest: EMPTY, size: 2 },
    layers: [],
  }),
);
const IMAGE = computeDigest(IMAGE_BYTES);

type Doc = { type: string; bytes: Buffer };
const json = (type: string, v: unknown): Doc => ({ type, bytes: Buffer.from(JSON.stringify(v)) });

function referrer(
  layer: { digest: string; size: number },
  opts: { subject?: string; configType?: string; top?: boolean } = {},
): Doc {
  return json(MEDIA_TYPES.ociManifest, {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    ...(opts.top === false ? {} : { artifactType: BUNDLE_TYPE }),
    config: {
      mediaType: MEDIA_TYPES.ociEmpty,
      digest: EMPTY,
      size: 2,
      ...(opts.configType ? { artifactType: opts.configType } : {}),
    },
    layers: [{ mediaType: BUNDLE_TYPE, ...layer }],
    subject: { mediaType: MEDIA_TYPES.ociManifest, digest: opts.subject ?? IMAGE, size: IMAGE_BYTES.length },
  });
}

/**
 * A registry that serves what each scenario says, at repository `<scenario>/app`: manifests by
 * digest from `docs`, the referrers list (or 404 for the fallback tag), blobs (`endless` streams
 * without end), and counts the blob requests.
 */
async function hostileRegistry(
  scenarios: Record<
    string,
    {
      referrers?: unknown;
      fallback?: unknown;
      docs?: Record<string, Doc>;
      blobs?: Record<string, Buffer | 'endless'>;
    }
  >,
) {
  const blobRequests: string[] = [];
  const srv = createServer((req: IncomingMessage, res: ServerResponse) => {
    const m = /^\/v2\/([^/]+)\/app\/(manifests|referrers|blobs)\/([^/?]+)/.exec(req.url ?? '');
    if (req.url === '/v2/') return void res.writeHead(200).end('{}');
    const s = m ? scenarios[m[1]!] : undefined;
    const notFound = () =>
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}');
    if (!m || !s) return void notFound();
    const [, , kind, id] = m;
    if (kind === 'manifests' && id === IMAGE) {
      return void res
        .writeHead(200, {
          'content-type': MEDIA_TYPES.ociManifest,
          'docker-content-digest': IMAGE,
          'content-length': IMAGE_BYTES.length,
        })
        .end(req.method === 'HEAD' ? undefined : IMAGE_BYTES);
    }
    if (kind === 'referrers') {
      if (!s.referrers) return void notFound();
      return void res
        .writeHead(200, { 'content-type': MEDIA_TYPES.ociIndex })
        .end(JSON.stringify(s.referrers));
    }
    if (kind === 'manifests' && id!.startsWith('sha256-')) {
      if (!s.fallback) return void notFound();
      return void res
        .writeHead(200, { 'content-type': MEDIA_TYPES.ociIndex })
        .end(JSON.stringify(s.fallback));
    }
    if (kind === 'manifests') {
      const d = s.docs?.[id!];
      if (!d) return void notFound();
      return void res.writeHead(200, { 'content-type': d.type }).end(d.bytes);
    }
    blobRequests.push(id!);
    const b = s.blobs?.[id!];
    if (b === undefined) return void notFound();
    if (b !== 'endless') return void res.writeHead(200).end(b);
    res.writeHead(200);
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const pump = (): void => {
      while (res.write(chunk)) if (res.destroyed) return;
      res.once('drain', pump);
    };
    res.on('error', () => undefined);
    pump();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(srv.address() as AddressInfo).port}`;
  return {
    host,
    blobRequests,
    close: () =>
      new Promise<void>((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  };
}

function descriptor(doc: Doc, artifactType?: string) {
  return {
    mediaType: MEDIA_TYPES.ociManifest,
    digest: computeDigest(doc.bytes),
    size: doc.bytes.length,
    ...(artifactType ? { artifactType } : {}),
  };
}

const bundleBlob = Buffer.from('{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}');
const layerOk = { digest: computeDigest(bundleBlob), size: bundleBlob.length };
// cosign 3.0: the fallback entry typed oci.empty, the bundle type only in config.artifactType.
const cosign30 = referrer(layerOk, { top: false, configType: BUNDLE_TYPE });
const foreignSubject = referrer(layerOk, { subject: `sha256:${'e'.repeat(64)}` });
const sbom = json(MEDIA_TYPES.ociManifest, {
  schemaVersion: 2,
  mediaType: MEDIA_TYPES.ociManifest,
  artifactType: 'application/spdx+json',
  config: { mediaType: MEDIA_TYPES.ociEmpty, digest: EMPTY, size: 2 },
  layers: [{ mediaType: BUNDLE_TYPE, ...layerOk }],
  subject: { mediaType: MEDIA_TYPES.ociManifest, digest: IMAGE, size: IMAGE_BYTES.length },
});
const gib = referrer({ digest: `sha256:${'1'.repeat(64)}`, size: 1024 ** 3 });
const endlessBlob = `sha256:${'2'.repeat(64)}`;
const liar = referrer({ digest: endlessBlob, size: 4096 });
const mismatched = referrer(layerOk);
const manyIndex = {
  schemaVersion: 2,
  mediaType: MEDIA_TYPES.ociIndex,
  manifests: Array.from({ length: 10_000 }, (_, i) => ({
    mediaType: MEDIA_TYPES.ociManifest,
    digest: `sha256:${i.toString(16).padStart(64, '0')}`,
    size: 500,
    artifactType: MEDIA_TYPES.ociEmpty,
  })),
};
const index = (...ds: unknown[]) => ({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: ds });
const docsOf = (...ds: Doc[]) => Object.fromEntries(ds.map((d) => [computeDigest(d.bytes), d]));

const SCENARIOS = {
  // The fallback tag only (no referrers API): cosign 3.0's oci.empty entry is found by its manifest;
  // a listed referrer of another image and an SBOM are skipped.
  filter: {
    fallback: index(
      descriptor(cosign30, MEDIA_TYPES.ociEmpty),
      descriptor(foreignSubject, BUNDLE_TYPE),
      descriptor(sbom, 'application/spdx+json'),
    ),
    docs: docsOf(cosign30, foreignSubject, sbom),
    blobs: { [layerOk.digest]: bundleBlob },
  },
  many: { fallback: manyIndex },
  gib: { referrers: index(descriptor(gib, BUNDLE_TYPE)), docs: docsOf(gib) },
  liar: {
    referrers: index(descriptor(liar, BUNDLE_TYPE)),
    docs: docsOf(liar),
    blobs: { [endlessBlob]: 'endless' as const },
  },
  // The index names a digest, the registry serves other bytes under it.
  mismatch: {
    referrers: index({ ...descriptor(mismatched, BUNDLE_TYPE), digest: `sha256:${'3'.repeat(64)}` }),
    docs: { [`sha256:${'3'.repeat(64)}`]: mismatched },
  },
};

test('reading referrers: the manifest decides (cosign 3.0 oci.empty entries found; other subjects and SBOMs skipped); hostile registries fail clearly', async (t) => {
  const reg = await hostileRegistry(SCENARIOS);
  t.after(() => reg.close());
  const client = new RegistryClient({ timeoutMs: 5000 });
  const at = (name: string) => parseReference(`${reg.host}/${name}/app@${IMAGE}`);

  const found = await readBundleReferrers(client, at('filter'));
  assert.equal(found.length, 1);
  assert.equal(found[0]!.manifestDigest, computeDigest(cosign30.bytes));
  assert.equal(found[0]!.via, 'fallback-tag');
  assert.deepEqual(found[0]!.bytes, bundleBlob);

  await assert.rejects(
    readBundleReferrers(client, at('many')),
    (e: unknown) => isSigilError(e, 'TOO_LARGE') && /more than 1000/.test(e.message),
  );
  await assert.rejects(
    readBundleReferrers(client, at('gib')),
    (e: unknown) => isSigilError(e, 'TOO_LARGE') && /1073741824 bytes/.test(e.message),
  );
  assert.ok(
    !reg.blobRequests.includes(`sha256:${'1'.repeat(64)}`),
    'the 1 GiB layer is refused by its descriptor, never fetched',
  );
  await assert.rejects(readBundleReferrers(client, at('liar')), (e: unknown) => isSigilError(e, 'TOO_LARGE'));
  await assert.rejects(readBundleReferrers(client, at('mismatch')), (e: unknown) =>
    isSigilError(e, 'DIGEST_MISMATCH'),
  );
});

test('admission against hostile registries: each review is denied with the reason, not a timeout', async (t) => {
  const reg = await hostileRegistry(SCENARIOS);
  t.after(() => reg.close());
  const policy = clusterPolicy([`${reg.host}/*`], {
    subject: 'https://github.com/org/repo/.github/workflows/CI-CD.yml@refs/heads/main',
    issuer: 'https://token.actions.githubusercontent.com',
  });
  const root = parseTrustedRoot({
    mediaType: TRUSTED_ROOT_MEDIA_TYPE,
    tlogs: [],
    certificateAuthorities: [],
    ctlogs: [],
    timestampAuthorities: [],
  });
  const s = await createAdmissionServer({
    policies: parsePolicyText(policy, 'p.yaml', { hasTrustedRoot: true }),
    source: registryImageSource(new RegistryClient({ timeoutMs: 5000 })),
    verifier: new SigstoreSignatureVerifier(root),
    port: 0,
    failurePolicy: 'Fail',
    timeoutMs: 8000,
    logLevel: 'silent',
  });
  t.after(() => s.close());
  const expect: Record<string, RegExp> = {
    many: /more than 1000/,
    gib: /1073741824 bytes/,
    liar: /larger than|too large|more than/i,
    mismatch: /digest mismatch/,
  };
  for (const [name, re] of Object.entries(expect)) {
    const r = await postJson(
      `${s.url}/validate`,
      review('Pod', pod(name, [`${reg.host}/${name}/app@${IMAGE}`])),
      s.caPem!,
    );
    const resp = (r.body as { response: { allowed: boolean; status?: { message: string } } }).response;
    assert.equal(resp.allowed, false, name);
    assert.match(resp.status!.message, re, name);
    assert.doesNotMatch(resp.status!.message, /timed out|deadline/i, name);
  }
});
