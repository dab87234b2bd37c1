import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BuiltImage } from '../../src/oci/index.js';
import { sha256Hex } from '../../src/crypto/index.js';

/** A scratch directory with a registries.d enabling sigstore attachments and an accept-anything policy. */
export function skopeoEnv(): { dir: string; args: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-skopeo-'));
  const regd = join(dir, 'registries.d');
  mkdirSync(regd);
  writeFileSync(join(regd, 'sigstore.yaml'), 'default-docker:\n  use-sigstore-attachments: true\n');
  const policy = join(dir, 'policy.json');
  writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  const tmp = join(dir, 'tmp');
  mkdirSync(tmp);
  return { dir, args: ['--policy', policy, '--registries.d', regd, '--tmpdir', tmp] };
}

/** Runs skopeo asynchronously (an in-process registry must keep serving meanwhile). */
export async function skopeo(
  globalArgs: string[],
  args: string[],
): Promise<{ stdout: string; stderr: string }> {
  const child = spawn('skopeo', [...globalArgs, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`skopeo ${args.join(' ')} failed (${code}): ${stderr}`);
  return { stdout, stderr };
}

/** Writes an OCI image layout directory holding `image` under `tag`. */
export function writeOciLayout(dir: string, image: BuiltImage, tag: string): void {
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  for (const b of [image.config, ...image.layers]) {
    writeFileSync(join(blobs, sha256Hex(b.bytes)), b.bytes);
  }
  writeFileSync(join(blobs, image.digest.slice('sha256:'.length)), image.manifestBytes);
  const index = {
    schemaVersion: 2,
    manifests: [
      {
        mediaType: image.mediaType,
        digest: image.digest,
        size: image.manifestBytes.length,
        annotations: { 'org.opencontainers.image.ref.name': tag },
      },
    ],
  };
  writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
}
