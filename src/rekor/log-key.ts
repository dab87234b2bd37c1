import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { SigilError } from '../errors/index.js';
import type { IdentityFact } from '../log/store/pg/schema.js';
import { generateP256, keyKind, privateKeyFromPem, publicKeyPem, sha256, spkiDer } from '../crypto/index.js';

export const LOG_KEY_FILE = 'log-signing-key.pem';

/** The log's ECDSA P-256 signing key and the identifiers derived from it. */
export interface LogKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicKeyPem: string;
  /** Hex SHA-256 of the DER SPKI (Rekor's logID). */
  logId: string;
  /** First 4 bytes of the logID: the checkpoint key hint. */
  keyHint: Buffer;
}

export function logKeyFrom(privateKey: KeyObject): LogKey {
  if (keyKind(privateKey) !== 'ecdsa-p256')
    throw new SigilError('INVALID_KEY', 'the log signing key must be ECDSA P-256');
  const publicKey = createPublicKey(privateKey);
  const id = sha256(spkiDer(publicKey));
  return {
    privateKey,
    publicKey,
    publicKeyPem: publicKeyPem(publicKey),
    logId: id.toString('hex'),
    keyHint: id.subarray(0, 4),
  };
}

/** Loads `<dataDir>/log-signing-key.pem` (PKCS#8), creating it with mode 0600 on first start. */
export function loadOrCreateLogKey(dataDir: string): LogKey {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, LOG_KEY_FILE);
  if (existsSync(path)) {
    const mode = statSync(path).mode & 0o777;
    if (mode & 0o077) chmodSync(path, 0o600);
    return logKeyFrom(privateKeyFromPem(readFileSync(path, 'utf8')));
  }
  const { privateKey } = generateP256();
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  writeFileSync(path, pem, { mode: 0o600, flag: 'wx' });
  return logKeyFrom(privateKey);
}

/** `--log-key FILE` / SIGIL_LOG_KEY_FILE: a key shared by the replicas of one log (never created here). */
export function readLogKeyFile(path: string): LogKey {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (e) {
    throw new SigilError('INVALID_KEY', `cannot read the log key ${path}: ${(e as Error).message}`);
  }
  return logKeyFrom(privateKeyFromPem(pem));
}

/** The facts a replicated log records about its Rekor identity (see claimIdentity). */
export function logIdentity(key: LogKey, checkpointName?: string): IdentityFact[] {
  const facts: IdentityFact[] = [
    { key: 'log_id', value: key.logId, what: 'log key ID', code: 'INVALID_KEY' },
  ];
  if (checkpointName !== undefined)
    facts.push({
      key: 'checkpoint_name',
      value: checkpointName,
      what: 'checkpoint name',
      code: 'INVALID_INPUT',
    });
  return facts;
}
