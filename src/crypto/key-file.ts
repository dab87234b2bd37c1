import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';

/** Writes a private key as PKCS#8 PEM, readable by its owner only; never overwrites a file. */
export function writePrivateKeyFile(file: string, key: KeyObject): void {
  writeFileSync(file, key.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
}

/** Loads a PKCS#8 PEM key file, or creates it with a new P-256 key. */
export function loadOrCreateP256Key(file: string): KeyObject {
  if (existsSync(file)) return createPrivateKey(readFileSync(file, 'utf8'));
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writePrivateKeyFile(file, privateKey);
  return privateKey;
}
