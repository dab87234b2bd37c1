import { createRequire } from 'node:module';
import { closeSync, constants as fsConstants, fstatSync, openSync, readSync } from 'node:fs';
import { type Doc, invalid, objectAt, optObject, optString } from '../policy/fields.js';
import { refuseUnknown } from '../policy/known-fields.js';
import type { TufRootSource } from '../policy/types.js';
import { TUF_LIMITS } from '../../tuf/client.js';

/** Kyverno's default mirror (sigstore's tuf.DefaultRemoteRoot). */
export const DEFAULT_TUF_MIRROR = 'https://tuf-repo-cdn.sigstore.dev';
/** A root.json a policy gives is bounded as tuf-js bounds every root it fetches. */
const MAX_ROOT_BYTES = TUF_LIMITS.metadataBytes;
const URL_RE = /^https?:\/\//i;
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

function httpUrl(value: string, path: string): string {
  // The URL parser drops tabs and newlines: the string kept would not be the URL fetched.
  if (/[\s\p{Cc}]/u.test(value))
    throw invalid(path, `${JSON.stringify(value)} is not a URL (it holds whitespace or a control character)`);
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw invalid(path, `"${value}" is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw invalid(path, `"${value}" is not an http(s) URL`);
  return value;
}

type TufModels = typeof import('@tufjs/models');
let tufModels: TufModels | undefined;

/**
 * The bytes must be TUF root metadata signed by its own root keys (what tuf-js requires of the
 * root an update starts from): a root that can never verify is refused at load rather than
 * failing its attestor on every review. Expiry and rotations are left to each update.
 */
function rootMetadata(bytes: Buffer, path: string): Buffer {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw invalid(path, 'is not JSON TUF root metadata');
  }
  const d = doc as { signed?: { _type?: unknown }; signatures?: unknown };
  if (typeof d !== 'object' || d === null || d.signed?._type !== 'root' || !Array.isArray(d.signatures))
    throw invalid(path, 'is not TUF root metadata ({"signed": {"_type": "root", …}, "signatures": […]})');
  // Loaded only when a policy names a TUF root.
  tufModels ??= createRequire(import.meta.url)('@tufjs/models') as TufModels;
  try {
    const root = tufModels.Metadata.fromJSON(tufModels.MetadataKind.Root, doc as never);
    root.verifyDelegate(tufModels.MetadataKind.Root, root);
  } catch (e) {
    throw invalid(path, `is not a self-signed TUF root: ${(e as Error).message}`);
  }
  return bytes;
}

/**
 * At most MAX_ROOT_BYTES of a regular file, opened non-blocking: a device (/dev/zero) would be
 * read forever and a FIFO would block policy loading, so neither is read.
 */
function readRootFile(file: string, path: string): Buffer {
  let fd: number | undefined;
  try {
    fd = openSync(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error('not a regular file');
    if (st.size > MAX_ROOT_BYTES) throw new Error(`${st.size} bytes (at most ${MAX_ROOT_BYTES})`);
    const buf = Buffer.alloc(MAX_ROOT_BYTES + 1);
    let n = 0;
    for (let r; n < buf.length && (r = readSync(fd, buf, n, buf.length - n, null)) > 0;) n += r;
    if (n > MAX_ROOT_BYTES) throw new Error(`more than ${MAX_ROOT_BYTES} bytes`);
    return buf.subarray(0, n);
  } catch (e) {
    throw invalid(path, `cannot read "${file}": ${(e as Error).message}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * `cosign.tuf {root {path | data}, mirror}` (Kyverno opts.go initTUFAndFetch): `data` is base64
 * root.json, `path` a file (read at load) or an http(s) URL (fetched with each update); the
 * mirror defaults to sigstore's. Kyverno falls back to its embedded public-good root when no
 * root is given and takes `path` over `data`; sigil embeds no public-good root and refuses both.
 */
export function parseTuf(c: Doc, cp: string): TufRootSource | undefined {
  const t = optObject(c, 'tuf', cp);
  if (!t) return undefined;
  const p = `${cp}.tuf`;
  refuseUnknown(t, p, ['root', 'mirror']);
  const mirrorText = optString(t, 'mirror', p, 2048);
  const mirror = mirrorText ? httpUrl(mirrorText, `${p}.mirror`) : DEFAULT_TUF_MIRROR;
  if (t.root === undefined || t.root === null)
    throw invalid(`${p}.root`, 'is required: sigil embeds no public-good TUF root (give path or data)');
  const r = objectAt(t.root, `${p}.root`);
  refuseUnknown(r, `${p}.root`, ['path', 'data']);
  const path = optString(r, 'path', `${p}.root`, 4096);
  const data = optString(r, 'data', `${p}.root`, Math.ceil((MAX_ROOT_BYTES * 4) / 3) + 4);
  if (path && data) throw invalid(`${p}.root`, 'give one of path or data, not both');
  if (data) {
    const compact = data.replace(/\s+/g, '');
    if (compact.length % 4 !== 0 || !BASE64_RE.test(compact))
      throw invalid(`${p}.root.data`, 'is not base64');
    return { mirror, root: rootMetadata(Buffer.from(compact, 'base64'), `${p}.root.data`) };
  }
  if (!path) throw invalid(`${p}.root`, 'path or data is required');
  if (URL_RE.test(path)) {
    // The root is what every signature the mirror serves is checked against: fetched in clear
    // text, whoever is on the path chooses the keys (the mirror's metadata is signed; it is not).
    const url = httpUrl(path, `${p}.root.path`);
    if (!/^https:/i.test(url))
      throw invalid(`${p}.root.path`, `"${url}" is fetched over plain HTTP (use https, data or a file)`);
    return { mirror, root: { url } };
  }
  return { mirror, root: rootMetadata(readRootFile(path, `${p}.root.path`), `${p}.root.path`) };
}
