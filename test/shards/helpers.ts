import { createPublicKey, type KeyObject } from 'node:crypto';
import { createLogServer, type LogServer } from '../../src/rekor/server.js';
import type { IdentifiedLogEntry } from '../../src/rekor/log-entry.js';
import { rotateLog } from '../../src/log/shards/rotate.js';
import { createEntry, hashedRekord, tempDir } from '../rekor/helpers.js';

export const openLog = (dataDir: string): Promise<LogServer> =>
  createLogServer({ dataDir, port: 0, logLevel: 'silent', workers: 0 });

export async function grow(server: LogServer, n: number): Promise<IdentifiedLogEntry[]> {
  const out: IdentifiedLogEntry[] = [];
  for (let i = 0; i < n; i++) out.push(await createEntry(server.url, hashedRekord().entry));
  return out;
}

export function logKey(server: LogServer): KeyObject {
  return createPublicKey(server.publicKeyPem);
}

/** GET a path; the parsed JSON and the status. */
export async function getJson<T = unknown>(url: string): Promise<{ status: number; json: T }> {
  const res = await fetch(url);
  return { status: res.status, json: (await res.json()) as T };
}

/** The one entry of a `{uuid: entry}` map. */
export function only(map: Record<string, Omit<IdentifiedLogEntry, 'uuid'>>): IdentifiedLogEntry {
  const [uuid, e] = Object.entries(map)[0]!;
  return { uuid, ...e };
}

export interface LogInfoJson {
  rootHash: string;
  treeSize: number;
  signedTreeHead: string;
  treeID: string;
  inactiveShards?: { rootHash: string; treeSize: number; signedTreeHead: string; treeID: string }[];
}

export const treeHex = (treeId: string): string => BigInt(treeId).toString(16).padStart(16, '0');

/** Serves a fresh log, runs `first` against it, rotates it with the server stopped, and serves it again (closed after the test). */
export async function rotatedAfter(
  t: { after(fn: () => Promise<void> | void): void },
  first: (server: LogServer) => Promise<void>,
): Promise<{ dataDir: string; server: LogServer; oldTree: string }> {
  const dataDir = tempDir(t);
  const before = await openLog(dataDir);
  await first(before);
  await before.close();
  await rotateLog(dataDir);
  const server = await openLog(dataDir);
  t.after(() => server.close());
  return { dataDir, server, oldTree: before.treeId };
}
