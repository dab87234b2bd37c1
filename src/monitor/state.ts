import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { SigilError } from '../errors/index.js';

/** What the monitor alerts on. */
export type AlertKind = 'rollback' | 'fork' | 'bad-signature' | 'identity';

export const MONITOR_STATE_VERSION = 1;
const MAX_STATE_BYTES = 1024 * 1024;

/** What the monitor remembers between runs (a JSON file). */
export interface MonitorState {
  version: typeof MONITOR_STATE_VERSION;
  /** The log's public key, pinned on the first run (trust on first use). */
  publicKeyPem: string;
  /** Checkpoint origin seen first (the tree the monitor follows). */
  origin: string;
  /** Latest verified checkpoint. */
  size: number;
  rootHash: string;
  signedTreeHead: string;
  /** Entries below this index were already checked against --identity. */
  identityCheckedUpTo: number;
}

export function loadState(path: string): MonitorState | undefined {
  if (!existsSync(path)) return undefined;
  const text = readFileSync(path, 'utf8');
  if (text.length > MAX_STATE_BYTES)
    throw new SigilError('INVALID_INPUT', `monitor state ${path} is too large`);
  let s: Partial<MonitorState>;
  try {
    s = JSON.parse(text) as Partial<MonitorState>;
  } catch {
    throw new SigilError('INVALID_INPUT', `monitor state ${path} is not JSON`);
  }
  if (
    s.version !== MONITOR_STATE_VERSION ||
    typeof s.publicKeyPem !== 'string' ||
    typeof s.origin !== 'string' ||
    !Number.isSafeInteger(s.size) ||
    typeof s.rootHash !== 'string' ||
    !/^[0-9a-f]{64}$/.test(s.rootHash) ||
    typeof s.signedTreeHead !== 'string' ||
    !Number.isSafeInteger(s.identityCheckedUpTo)
  ) {
    throw new SigilError(
      'INVALID_INPUT',
      `monitor state ${path} is malformed (version ${MONITOR_STATE_VERSION} expected)`,
    );
  }
  return s as MonitorState;
}

export function saveState(path: string, state: MonitorState): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}
