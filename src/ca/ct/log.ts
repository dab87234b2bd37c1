import {
  createHash,
  createPublicKey,
  sign as nodeSign,
  verify as nodeVerify,
  type KeyObject,
} from 'node:crypto';
import { join } from 'node:path';
import { SigilError } from '../../errors/index.js';
import { createLog, openSqliteStore, type Log, type LogStore, type StoredEntry } from '../../log/index.js';
import { leafHash } from '../../merkle/index.js';
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
import { digitallySigned, precertLeaf, treeHeadSignedData } from './structs.js';
import { openPrecertJournal } from './precert-journal.js';

export const MAX_CHAIN_LENGTH = 5;
const POISON_VALUE = Buffer.from([0x05, 0x00]);

export interface CtLogConfig {
  /** Directory of the CT log's own SQLite log and extra-data files. */
  dataDir: string;
  /** The log's P-256 signing key. */
  key: KeyObject;
  /** DER roots whose chains add-pre-chain accepts. */
  acceptedRoots: readonly Buffer[];
  /** Another log store (default: SQLite in dataDir/ctlog). */
  store?: LogStore;
  /** Store of the precertificate journal (get-entries extra_data; default: SQLite in dataDir/ctlog/extra). */
  journalStore?: LogStore;
  now?: () => number;
}

export interface CtLog {
  /** SHA-256 of the log key's DER SPKI. */
  readonly logId: Buffer;
  readonly publicKeyDer: Buffer;
  readonly log: Log;
  /**
   * RFC 6962 add-pre-chain with every check: chain[0] is the precertificate (with poison),
   * chain[1] its issuer, ending at an accepted root. Resolves with the SCT once the entry (and
   * its extra data) is durably in the log.
   */
  addPreChain(chain: readonly Buffer[]): Promise<Sct>;
  /**
   * add-pre-chain for the CA that owns this log, in-process. The caller vouches for what
   * addPreChain re-derives per call: `precert` was just signed with the key certified by
   * issuerChain[0] (the CA checks that pairing once at start), and `tbs` is its TBS without
   * the poison extension (it built both). The issuer chain is checked here, once per chain.
   */
  addOwnPrecertificate(precert: Buffer, tbs: Buffer, issuerChain: readonly Buffer[]): Promise<Sct>;
  /** get-entries extra_data (PrecertChainEntry) by entry index. */
  extraData(entries: readonly StoredEntry[]): Promise<Map<number, Buffer>>;
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
  const journal = await openPrecertJournal(
    config.journalStore ?? (await openSqliteStore({ dir: join(config.dataDir, 'ctlog', 'extra') })),
    join(config.dataDir, 'ctlog', 'precerts.db'),
  );
  const roots = new Set(config.acceptedRoots.map((r) => r.toString('base64')));
  const verifiedChains = new Set<string>();

  const checkIssuerChain = (chain: readonly Buffer[]): void => {
    const fingerprint = chain.map((c) => createHash('sha256').update(c).digest('hex')).join(':');
    if (verifiedChains.has(fingerprint)) return;
    const last = chain[chain.length - 1]!;
    if (!roots.has(last.toString('base64')))
      throw new SigilError('INVALID_CERTIFICATE', 'chain does not end at an accepted root');
    for (let i = 0; i + 1 < chain.length; i++) {
      // Synchronous: a chain is checked once, and must not queue behind signing jobs.
      if (!signedBySync(chain[i]!, chain[i + 1]!)) {
        throw new SigilError('INVALID_CERTIFICATE', `chain certificate ${i + 1} is not signed by the next`);
      }
    }
    if (verifiedChains.size > 64) verifiedChains.clear();
    verifiedChains.add(fingerprint);
  };

  // The CA passes the same chain array on every call: checked and hashed once.
  const ownChains = new WeakMap<readonly Buffer[], Buffer>();
  const ownIssuerKeyHash = (chain: readonly Buffer[]): Buffer => {
    let known = ownChains.get(chain);
    if (!known) {
      if (chain.length < 1 || chain.length + 1 > MAX_CHAIN_LENGTH)
        throw new SigilError('INVALID_INPUT', `add-pre-chain needs 2–${MAX_CHAIN_LENGTH} certificates`);
      checkIssuerChain(chain);
      known = createHash('sha256').update(spkiOf(chain[0]!)).digest();
      ownChains.set(chain, known);
    }
    return known;
  };

  /** Journals the extra data, appends the leaf, then signs the SCT (after the durable commit). */
  const submit = async (
    precert: Buffer,
    tbs: Buffer,
    issuerChain: readonly Buffer[],
    issuerKeyHash: Buffer,
  ): Promise<Sct> => {
    const leaf = precertLeaf(BigInt(now()), issuerKeyHash, tbs);
    await journal.put(leafHash(leaf), precert, issuerChain);
    const appended = await log.append(leaf);
    // Same leaf hash, same bytes: a duplicate keeps the first timestamp, which is in the leaf.
    const timestamp = appended.entry.leaf.readBigUInt64BE(2);
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
      checkIssuerChain(chain.slice(1));
      if (!(await signedBy(precert, issuer)))
        throw new SigilError('INVALID_CERTIFICATE', 'precertificate signature does not verify');
      const tbs = tbsWithoutExtension(precert, CT.poison);
      const issuerKeyHash = createHash('sha256').update(spkiOf(issuer)).digest();
      return submit(precert, tbs, chain.slice(1), issuerKeyHash);
    },
    async addOwnPrecertificate(precert, tbs, issuerChain) {
      return submit(precert, tbs, issuerChain, ownIssuerKeyHash(issuerChain));
    },
    async extraData(entries) {
      const data = await journal.get(entries);
      const out = new Map<number, Buffer>();
      entries.forEach((e, i) => {
        const d = data[i];
        if (d) out.set(e.index, d);
      });
      return out;
    },
    async close() {
      await log.close();
      await journal.close();
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
  const parts = signatureParts(cert);
  if (!parts) return false;
  const key = issuerKey(issuer);
  return new Promise((resolve) =>
    nodeVerify(parts.hash, parts.tbs, key, parts.sig, (e, ok) => resolve(!e && ok)),
  );
}

function signedBySync(cert: Buffer, issuer: Buffer): boolean {
  const parts = signatureParts(cert);
  try {
    return parts !== undefined && nodeVerify(parts.hash, parts.tbs, issuerKey(issuer), parts.sig);
  } catch {
    return false;
  }
}

function signatureParts(cert: Buffer): { tbs: Buffer; hash: string; sig: Buffer } | undefined {
  const [tbs, alg, sigBits] = sequenceElements(cert);
  if (!tbs || !alg || !sigBits || sigBits[0] !== 0x03) return undefined;
  const hash = alg.includes(Buffer.from('2a8648ce3d040303', 'hex')) ? 'sha384' : 'sha256';
  return { tbs, hash, sig: sigBits.subarray(sigBits.length - (sequenceElementsLength(sigBits) - 1)) };
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
