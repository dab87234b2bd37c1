import { existsSync } from 'node:fs';

/** A command's artifact: a path, or (when it names no file) the `sha256:<hex>` digest of one. */
export type FileOrDigest = { kind: 'file'; path: string } | { kind: 'digest'; digest: Buffer };

/** The protocol's FILE_OR_DIGEST rule: `sha256:` + 64 hex characters and not a path on disk. */
export function fileOrDigest(arg: string): FileOrDigest {
  const m = /^sha256:([0-9a-fA-F]{64})$/.exec(arg);
  if (m && !existsSync(arg)) return { kind: 'digest', digest: Buffer.from(m[1]!, 'hex') };
  return { kind: 'file', path: arg };
}
