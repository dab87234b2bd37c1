import { gzipSync } from 'node:zlib';
import { computeDigest } from './manifest.js';
import { MEDIA_TYPES, type Descriptor, type ImageManifest } from './media-types.js';
import type { RegistryClient } from './client.js';
import type { ImageReference } from './reference.js';

export interface ImageBlob {
  mediaType: string;
  bytes: Buffer;
  annotations?: Record<string, string>;
}

/** A complete single-platform image held in memory: config + layers + the manifest bytes. */
export interface BuiltImage {
  config: ImageBlob;
  layers: ImageBlob[];
  manifest: ImageManifest;
  manifestBytes: Buffer;
  mediaType: string;
  digest: string;
}

export function descriptorOf(blob: ImageBlob): Descriptor {
  const d: Descriptor = {
    mediaType: blob.mediaType,
    digest: computeDigest(blob.bytes),
    size: blob.bytes.length,
  };
  if (blob.annotations && Object.keys(blob.annotations).length > 0) d.annotations = blob.annotations;
  return d;
}

/** Serializes an OCI image manifest over the given blobs (pure). */
export function buildImage(
  config: ImageBlob,
  layers: ImageBlob[],
  extra: { annotations?: Record<string, string>; subject?: Descriptor; artifactType?: string } = {},
): BuiltImage {
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    ...(extra.artifactType ? { artifactType: extra.artifactType } : {}),
    config: descriptorOf(config),
    layers: layers.map(descriptorOf),
    ...(extra.subject ? { subject: extra.subject } : {}),
    ...(extra.annotations ? { annotations: extra.annotations } : {}),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest), 'utf8');
  return {
    config,
    layers,
    manifest,
    manifestBytes,
    mediaType: MEDIA_TYPES.ociManifest,
    digest: computeDigest(manifestBytes),
  };
}

/** A one-file POSIX tar archive (ustar), enough for a tiny test or demo layer. */
export function tarOneFile(name: string, content: Buffer, mtime = 0): Buffer {
  const header = Buffer.alloc(512);
  header.write(name.slice(0, 99), 0, 'utf8');
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${content.length.toString(8).padStart(11, '0')}\0`, 124);
  header.write(`${mtime.toString(8).padStart(11, '0')}\0`, 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const pad = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, pad, Buffer.alloc(1024)]);
}

/**
 * A tiny runnable-looking image whose content depends on `seed` (different seeds give
 * different digests): one gzip layer with /hello.txt and a linux/amd64 config.
 */
export function tinyImage(seed: string): BuiltImage {
  const layerTar = tarOneFile('hello.txt', Buffer.from(`hello from ${seed}\n`, 'utf8'));
  const layer = gzipSync(layerTar, { level: 9 });
  // gzip's header carries an OS byte; fix it so the bytes do not depend on the platform.
  layer[9] = 3;
  const config = {
    architecture: 'amd64',
    os: 'linux',
    config: { Cmd: ['/bin/true'], Labels: { 'dev.sigil.seed': seed } },
    rootfs: { type: 'layers', diff_ids: [computeDigest(layerTar)] },
  };
  return buildImage(
    { mediaType: MEDIA_TYPES.ociConfig, bytes: Buffer.from(JSON.stringify(config), 'utf8') },
    [{ mediaType: MEDIA_TYPES.ociLayerGzip, bytes: layer }],
  );
}

/** Pushes config, layers and manifest; `ref`'s tag (or digest) names the manifest. Returns the digest. */
export async function pushImage(
  client: RegistryClient,
  ref: ImageReference,
  image: BuiltImage,
): Promise<string> {
  await client.putBlob(ref, image.config.bytes, { mediaType: image.config.mediaType });
  for (const l of image.layers) await client.putBlob(ref, l.bytes, { mediaType: l.mediaType });
  return client.putManifest(ref, image.manifestBytes, image.mediaType);
}

/** An OCI image index over platform manifests (pure): its bytes and digest. */
export function buildIndex(
  children: { image: BuiltImage; platform: { os: string; architecture: string } }[],
): {
  bytes: Buffer;
  digest: string;
  mediaType: string;
} {
  const index = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociIndex,
    manifests: children.map((c) => ({
      mediaType: c.image.mediaType,
      digest: c.image.digest,
      size: c.image.manifestBytes.length,
      platform: c.platform,
    })),
  };
  const bytes = Buffer.from(JSON.stringify(index), 'utf8');
  return { bytes, digest: computeDigest(bytes), mediaType: MEDIA_TYPES.ociIndex };
}

/** Pushes every child image by digest, then the index under `ref`. Returns the index digest. */
export async function pushIndex(
  client: RegistryClient,
  ref: ImageReference,
  children: { image: BuiltImage; platform: { os: string; architecture: string } }[],
): Promise<string> {
  for (const c of children) await pushImage(client, ref.withDigest(c.image.digest), c.image);
  const index = buildIndex(children);
  return client.putManifest(ref, index.bytes, index.mediaType);
}
