import { mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Descriptor } from '../../oci/media-types.js';

/**
 * The embedded registry's storage, over a flat key → bytes space. Keys are built only from
 * validated repository names, tags and digests, so they are safe as relative file paths.
 *
 * Contract: `put` is atomic per key (a reader sees the old or the new value, never a torn
 * one); there is no cross-key transaction, so a manifest is written after its blobs and a
 * tag after its manifest, which keeps every reachable object complete. Not shared between
 * processes.
 */
export interface KeyValue {
  get(key: string): Buffer | undefined;
  put(key: string, value: Buffer): void;
  /** Immediate child names under `prefix/`. */
  list(prefix: string): string[];
  /** Size of the value, or undefined. */
  size(key: string): number | undefined;
}

export class MemoryKeyValue implements KeyValue {
  private readonly map = new Map<string, Buffer>();
  get(key: string): Buffer | undefined {
    return this.map.get(key);
  }
  put(key: string, value: Buffer): void {
    this.map.set(key, value);
  }
  list(prefix: string): string[] {
    const out = new Set<string>();
    const p = `${prefix}/`;
    for (const k of this.map.keys()) if (k.startsWith(p)) out.add(k.slice(p.length).split('/')[0]!);
    return [...out];
  }
  size(key: string): number | undefined {
    return this.map.get(key)?.length;
  }
}

export class FileKeyValue implements KeyValue {
  constructor(private readonly root: string) {
    mkdirSync(root, { recursive: true });
  }
  get(key: string): Buffer | undefined {
    try {
      return readFileSync(join(this.root, key));
    } catch {
      return undefined;
    }
  }
  put(key: string, value: Buffer): void {
    const path = join(this.root, key);
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    writeFileSync(tmp, value, { mode: 0o644 });
    renameSync(tmp, path);
  }
  list(prefix: string): string[] {
    try {
      return readdirSync(join(this.root, prefix)).filter((n) => !n.endsWith('.tmp'));
    } catch {
      return [];
    }
  }
  size(key: string): number | undefined {
    try {
      return statSync(join(this.root, key)).size;
    } catch {
      return undefined;
    }
  }
}

const fileName = (digest: string): string => digest.replace(':', '-');
const fromFileName = (name: string): string => name.replace('-', ':');

export interface StoredManifest {
  bytes: Buffer;
  mediaType: string;
}

/** Repositories, blobs, manifests, tags and the referrers index of the embedded registry. */
export class RegistryStore {
  constructor(private readonly kv: KeyValue) {}

  blobSize(repo: string, digest: string): number | undefined {
    if (this.kv.size(`repositories/${repo}/_links/${fileName(digest)}`) === undefined) return undefined;
    return this.kv.size(`blobs/${fileName(digest)}`);
  }

  getBlob(repo: string, digest: string): Buffer | undefined {
    if (this.kv.size(`repositories/${repo}/_links/${fileName(digest)}`) === undefined) return undefined;
    return this.kv.get(`blobs/${fileName(digest)}`);
  }

  /** Stores verified bytes under their digest and links them into the repository. */
  putBlob(repo: string, digest: string, bytes: Buffer): void {
    if (this.kv.size(`blobs/${fileName(digest)}`) === undefined)
      this.kv.put(`blobs/${fileName(digest)}`, bytes);
    this.linkBlob(repo, digest);
  }

  linkBlob(repo: string, digest: string): void {
    this.kv.put(`repositories/${repo}/_links/${fileName(digest)}`, Buffer.alloc(0));
  }

  getManifest(repo: string, digest: string): StoredManifest | undefined {
    const meta = this.kv.get(`repositories/${repo}/_manifests/${fileName(digest)}`);
    const bytes = this.kv.get(`blobs/${fileName(digest)}`);
    if (!meta || !bytes) return undefined;
    return { bytes, mediaType: meta.toString('utf8') };
  }

  putManifest(
    repo: string,
    digest: string,
    m: StoredManifest,
    referrer?: { subject: string; descriptor: Descriptor },
  ): void {
    if (this.kv.size(`blobs/${fileName(digest)}`) === undefined)
      this.kv.put(`blobs/${fileName(digest)}`, m.bytes);
    this.kv.put(`repositories/${repo}/_manifests/${fileName(digest)}`, Buffer.from(m.mediaType, 'utf8'));
    if (referrer) {
      this.kv.put(
        `repositories/${repo}/_referrers/${fileName(referrer.subject)}/${fileName(digest)}`,
        Buffer.from(JSON.stringify(referrer.descriptor), 'utf8'),
      );
    }
  }

  resolveTag(repo: string, tag: string): string | undefined {
    return this.kv.get(`repositories/${repo}/_tags/${tag}`)?.toString('utf8');
  }

  setTag(repo: string, tag: string, digest: string): void {
    this.kv.put(`repositories/${repo}/_tags/${tag}`, Buffer.from(digest, 'utf8'));
  }

  tags(repo: string): string[] {
    return this.kv.list(`repositories/${repo}/_tags`).sort();
  }

  hasRepository(repo: string): boolean {
    return (
      this.kv.list(`repositories/${repo}/_links`).length > 0 ||
      this.kv.list(`repositories/${repo}/_manifests`).length > 0
    );
  }

  referrers(repo: string, subject: string): Descriptor[] {
    const prefix = `repositories/${repo}/_referrers/${fileName(subject)}`;
    const out: Descriptor[] = [];
    for (const name of this.kv.list(prefix).sort()) {
      const v = this.kv.get(`${prefix}/${name}`);
      if (v) out.push(JSON.parse(v.toString('utf8')) as Descriptor);
    }
    return out;
  }

  /** Digest names of manifests stored in a repository (for tests and tooling). */
  manifestDigests(repo: string): string[] {
    return this.kv.list(`repositories/${repo}/_manifests`).map(fromFileName);
  }
}
