import {
  createHash,
  createPublicKey,
  sign as nodeSign,
  verify as nodeVerify,
  type KeyObject,
} from 'node:crypto';
import { join } from 'node:path';
import { SigilError } from '../../errors/index.js';
import { createLog, openSqliteStore, type Log, type LogStore } from '../../log/index.js';
import { CT } from '../../x509/oids.js';
import {
  sctSignedData,
  tbsWithoutExtension,
  extensionValue,
  SCT_HASH_SHA256,
  SCT_SIG_ECDSA,
  type Sct,
} from '../../x509/sct.js';
import { sequenceElements } from '../../x509/build.js';
import { digitallySigned, precertChainEntry, precertLeaf, treeHeadSignedData } from './structs.js';
import { openPrecertStore, type PrecertStore } from './precert-store.js';

export const MAX_CHAIN_LENGTH = 5;
const POISON_VALUE = Buffer.from([0x05, 0x00]);

export interface CtLogConfig {
  /** Directory of the CT log's own SQLite log and extra-data files. */
  dataDir: string;
  /** The log's P-256 signing key. */
  key: KeyObject;
  /** DER roots whose chains add-pre-chain accepts. */
  acceptedRoots: readonly Buffer[];
  /** Another log store (default: SQLite in dataDir). */
  store?: LogStore;
  now?: () => number;
}

export interface CtLog {
  /** SHA-256 of the log key's DER SPKI. */
  readonly logId: Buffer;
  readonly publicKeyDer: Buffer;
  readonly log: Log;
  /**
   * RFC 6962 add-pre-chain, called in-process: chain[0] is the precertificate (with poison),
   * chain[1] its issuer, ending at an accepted root. Resolves with the SCT once the entry is
   * durably in the log.
   */
  addPreChain(chain: readonly Buffer[]): Promise<Sct>;
  extraData(indexes: readonly number[]): Map<number, Buffer>;
  close(): Promise<void>;
}

export async function createCtLog(config: CtLogConfig): Promise<CtLog> {
  const key = config.key;
  const publicKeyDer = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const logId = createHash('sha256').update(publicKeyDer).digest();
  const now = config.now ?? Date.now;
  const store = config.store ?? (await openSqliteStore({ dir: join(config.dataDir, 'ctlog') }));
  const log = await createLog({
    store,
    now,
    signTreeHead: (size, rootHash, timestamp) =>
      digitallySigned(nodeSign('sha256', treeHeadSignedData(timestamp, size, rootHash), key)).toString(
        'base64',
      ),
  });
  const precerts: PrecertStore = openPrecertStore(join(config.dataDir, 'ctlog', 'precerts.db'));
  const roots = new Set(config.acceptedRoots.map((r) => r.toString('base64')));
  const verifiedChains = new Set<string>();

  const checkIssuerChain = async (chain: readonly Buffer[]): Promise<void> => {
    const fingerprint = chain.map((c) => createHash('sha256').update(c).digest('hex')).join(':');
    if (verifiedChains.has(fingerprint)) return;
    const last = chain[chain.length - 1]!;
    if (!roots.has(last.toString('base64')))
      throw new SigilError('INVALID_CERTIFICATE', 'chain does not end at an accepted root');
    for (let i = 0; i + 1 < chain.length; i++) {
      if (!(await signedBy(chain[i]!, chain[i + 1]!))) {
        throw new SigilError('INVALID_CERTIFICATE', `chain certificate ${i + 1} is not signed by the next`);
      }
    }
    if (verifiedChains.size > 64) verifiedChains.clear();
    verifiedChains.add(fingerprint);
  };

  return {
    logId,
    publicKeyDer,
    log,
    async addPreChain(chain) {
      if (chain.length < 2 || chain.length > MAX_CHAIN_LENGTH) {
        throw new SigilError('INVALID_INPUT', `add-pre-chain needs 2–${MAX_CHAIN_LENGTH} certificates`);
      }
      const [precert, issuer] = chain as [Buffer, Buffer];
      const poison = extensionValue(precert, CT.poison);
      if (!poison || !poison.equals(POISON_VALUE))
        throw new SigilError('INVALID_CERTIFICATE', 'not a precertificate (no poison)');
      await checkIssuerChain(chain.slice(1));
      if (!(await signedBy(precert, issuer)))
        throw new SigilError('INVALID_CERTIFICATE', 'precertificate signature does not verify');
      const tbs = tbsWithoutExtension(precert, CT.poison);
      const issuerKeyHash = createHash('sha256').update(spkiOf(issuer)).digest();
      const stamp = BigInt(now());
      const appended = await log.append(precertLeaf(stamp, issuerKeyHash, tbs));
      const timestamp = appended.duplicate ? appended.entry.leaf.readBigUInt64BE(2) : stamp;
      if (!appended.duplicate) precerts.put(appended.entry.index, precertChainEntry(precert, chain.slice(1)));
      const signature = await signAsync(sctSignedData({ timestamp, issuerKeyHash, tbs }), key);
      return {
        version: 0,
        logId,
        timestamp,
        extensions: Buffer.alloc(0),
        hashAlgorithm: SCT_HASH_SHA256,
        signatureAlgorithm: SCT_SIG_ECDSA,
        signature,
      };
    },
    extraData: (indexes) => precerts.get(indexes),
    async close() {
      await log.close();
      precerts.close();
    },
  };
}

function signAsync(data: Buffer, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    nodeSign('sha256', data, key, (e, s) => (e ? reject(e) : resolve(s))),
  );
}

/** Checks cert's signature with issuer's key (ECDSA, hash from the signature algorithm). */
async function signedBy(cert: Buffer, issuer: Buffer): Promise<boolean> {
  const [tbs, alg, sigBits] = sequenceElements(cert);
  if (!tbs || !alg || !sigBits || sigBits[0] !== 0x03) return false;
  const hash = alg.includes(Buffer.from('2a8648ce3d040303', 'hex')) ? 'sha384' : 'sha256';
  const sig = sigBits.subarray(sigBits.length - (sequenceElementsLength(sigBits) - 1));
  const key = issuerKey(issuer);
  return new Promise((resolve) => nodeVerify(hash, tbs, key, sig, (e, ok) => resolve(!e && ok)));
}

const issuerKeys = new Map<string, KeyObject>();

function issuerKey(issuer: Buffer): KeyObject {
  const id = createHash('sha256').update(issuer).digest('hex');
  let key = issuerKeys.get(id);
  if (!key) {
    key = createPublicKey({ key: spkiOf(issuer), format: 'der', type: 'spki' });
    if (issuerKeys.size >= 16) issuerKeys.clear();
    issuerKeys.set(id, key);
  }
  return key;
}

function sequenceElementsLength(tlvBytes: Buffer): number {
  const l = tlvBytes[1]!;
  if (l < 0x80) return l;
  let n = 0;
  for (let i = 0; i < (l & 0x7f); i++) n = n * 256 + tlvBytes[2 + i]!;
  return n;
}

/** SubjectPublicKeyInfo DER of a certificate. */
export function spkiOf(certDer: Buffer): Buffer {
  const tbs = sequenceElements(certDer)[0];
  if (!tbs) throw new SigilError('INVALID_CERTIFICATE', 'certificate has no TBS');
  const fields = sequenceElements(tbs);
  const offset = fields[0]![0] === 0xa0 ? 1 : 0;
  return fields[offset + 5]!;
}
