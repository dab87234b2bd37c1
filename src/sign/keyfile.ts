import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { SigilError } from '../errors/index.js';
import { assertStrongKey, parsePublicKeyOrCertificate, privateKeyFromPem } from '../crypto/index.js';

export const KEY_CIPHER = 'aes-256-cbc';
export const MAX_KEY_FILE_BYTES = 64 * 1024;

export interface KeyPairFiles {
  privateKeyPath: string;
  publicKeyPath: string;
}

/**
 * `generate-key-pair`: a P-256 key as encrypted PKCS#8 PEM (`ENCRYPTED PRIVATE KEY`, AES-256-CBC
 * with a PBKDF2-derived key) in PREFIX.key, mode 0600, and its SPKI PEM in PREFIX.pub. Refuses
 * to overwrite either file.
 */
export function writeKeyPair(prefix: string, password: string): KeyPairFiles {
  const files = { privateKeyPath: `${prefix}.key`, publicKeyPath: `${prefix}.pub` };
  for (const f of [files.privateKeyPath, files.publicKeyPath]) {
    if (existsSync(f)) throw new SigilError('INVALID_INPUT', `${f} already exists`);
  }
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem', cipher: KEY_CIPHER, passphrase: password });
  writeFileSync(files.privateKeyPath, pem, { mode: 0o600, flag: 'wx' });
  chmodSync(files.privateKeyPath, 0o600);
  writeFileSync(files.publicKeyPath, publicKey.export({ type: 'spki', format: 'pem' }), {
    mode: 0o644,
    flag: 'wx',
  });
  return files;
}

function readBounded(path: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new SigilError(
      'INVALID_INPUT',
      `cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
      { cause: e },
    );
  }
  if (text.length > MAX_KEY_FILE_BYTES) throw new SigilError('TOO_LARGE', `${what} ${path} is too large`);
  return text;
}

/** Loads a signing key file (encrypted or plain PKCS#8/SEC1 PEM) and its public key. */
export function loadPrivateKeyFile(
  path: string,
  password: string | undefined,
): { privateKey: KeyObject; publicKey: KeyObject } {
  const pem = readBounded(path, 'key file');
  if (!pem.includes('PRIVATE KEY-----'))
    throw new SigilError('INVALID_KEY', `${path} holds no PEM private key`);
  const encrypted = pem.includes('ENCRYPTED PRIVATE KEY');
  if (encrypted && password === undefined)
    throw new SigilError('INVALID_KEY', `${path} is encrypted and no password was given`);
  const privateKey = privateKeyFromPem(pem, encrypted ? password : undefined);
  assertStrongKey(privateKey);
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

/** Loads a verification key: a PEM public key or certificate. */
export function loadPublicKeyFile(path: string): KeyObject {
  const key = parsePublicKeyOrCertificate(readBounded(path, 'public key file')).key;
  assertStrongKey(key);
  return key;
}
