import { createHash, createPublicKey, sign, type KeyObject } from 'node:crypto';
import {
  Key,
  Metadata,
  MetaFile,
  Root,
  Signature,
  Snapshot,
  TargetFile,
  Targets,
  Timestamp,
} from '@tufjs/models';
import { canonicalJson } from '../crypto/index.js';

const SPEC_VERSION = '1.0.31';
const DAY_MS = 86_400_000;
/** How long each role's metadata is valid; the timestamp is re-signed at half its life. */
export const TUF_LIFETIMES_MS = {
  root: 365 * DAY_MS,
  targets: 30 * DAY_MS,
  snapshot: 30 * DAY_MS,
  timestamp: 7 * DAY_MS,
} as const;

const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const expiry = (now: Date, ms: number): string =>
  new Date(now.getTime() + ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const bytesOf = (m: Metadata<Root | Targets | Snapshot | Timestamp>): Buffer =>
  Buffer.from(JSON.stringify(m.toJSON()));

/** The TUF key record of a P-256 key (`ecdsa` / `ecdsa-sha2-nistp256`, PEM, as Sigstore's roots list theirs). */
export function tufKey(privateKey: KeyObject): Key {
  const pem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  const record = { keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', keyval: { public: pem } };
  return new Key({
    keyID: sha256Hex(canonicalJson(record)),
    keyType: record.keytype,
    scheme: record.scheme,
    keyVal: record.keyval,
  });
}

function signer(privateKey: KeyObject, keyID: string): (data: Buffer) => Signature {
  return (data) => new Signature({ keyID, sig: sign('sha256', data, privateKey).toString('hex') });
}

/** A root (version 1 unless given) whose four top-level roles are all held by `privateKey` (threshold 1). */
export function buildTufRoot(privateKey: KeyObject, now: Date, version = 1): Buffer {
  const key = tufKey(privateKey);
  const root = new Root({
    version,
    specVersion: SPEC_VERSION,
    expires: expiry(now, TUF_LIFETIMES_MS.root),
    keys: {},
    consistentSnapshot: true,
  });
  for (const role of ['root', 'targets', 'snapshot', 'timestamp']) root.addKey(key, role);
  const md = new Metadata(root);
  md.sign(signer(privateKey, key.keyID));
  return bytesOf(md);
}

/**
 * The files of a consistent-snapshot TUF repository serving `targets` (name → bytes), as a
 * mirror lays them out: `N.root.json`, `timestamp.json`, `V.snapshot.json`, `V.targets.json`
 * and `targets/<sha256>.<name>`. `version` numbers the targets, snapshot and timestamp (the
 * caller keeps it increasing across restarts).
 */
export function buildTufFiles(
  privateKey: KeyObject,
  rootJson: Buffer,
  targets: Record<string, Buffer>,
  version: number,
  now: Date,
): Map<string, Buffer> {
  const keyID = tufKey(privateKey).keyID;
  const sign = signer(privateKey, keyID);
  const files = new Map<string, Buffer>();
  const targetFiles: Record<string, TargetFile> = {};
  for (const [name, bytes] of Object.entries(targets)) {
    const hash = sha256Hex(bytes);
    targetFiles[name] = new TargetFile({ path: name, length: bytes.length, hashes: { sha256: hash } });
    files.set(`targets/${hash}.${name}`, bytes);
  }
  const common = (ms: number) => ({ version, specVersion: SPEC_VERSION, expires: expiry(now, ms) });
  const targetsMd = new Metadata(new Targets({ ...common(TUF_LIFETIMES_MS.targets), targets: targetFiles }));
  targetsMd.sign(sign);
  const targetsBytes = bytesOf(targetsMd);
  const snapshotMd = new Metadata(
    new Snapshot({
      ...common(TUF_LIFETIMES_MS.snapshot),
      meta: { 'targets.json': new MetaFile({ version }) },
    }),
  );
  snapshotMd.sign(sign);
  const snapshotBytes = bytesOf(snapshotMd);
  const timestampMd = new Metadata(
    new Timestamp({
      ...common(TUF_LIFETIMES_MS.timestamp),
      snapshotMeta: new MetaFile({
        version,
        length: snapshotBytes.length,
        hashes: { sha256: sha256Hex(snapshotBytes) },
      }),
    }),
  );
  timestampMd.sign(sign);
  const rootVersion = (JSON.parse(rootJson.toString('utf8')) as { signed: { version: number } }).signed
    .version;
  files.set(`${rootVersion}.root.json`, rootJson);
  files.set('root.json', rootJson);
  files.set(`${version}.targets.json`, targetsBytes);
  files.set(`${version}.snapshot.json`, snapshotBytes);
  files.set('timestamp.json', bytesOf(timestampMd));
  return files;
}
