// Browser-side checks of what the log serves, with WebCrypto only (no server trust beyond its key):
// RFC 6962 leaf hashes and inclusion proofs, C2SP checkpoints (signed notes), and SETs.
// Pure functions over bytes and strings; the same module runs under Node's WebCrypto in tests.

/* global atob */
const subtle = globalThis.crypto.subtle;
const enc = new TextEncoder();

/** @param {Uint8Array} bytes */
export async function sha256(bytes) {
  return new Uint8Array(await subtle.digest('SHA-256', bytes));
}

/** @param {Uint8Array} bytes */
export function toHex(bytes) {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/** @param {string} hex */
export function fromHex(hex) {
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) throw new Error('not hex');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** @param {string} b64 */
export function fromBase64(b64) {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) throw new Error('not base64');
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** @param {Uint8Array} a @param {Uint8Array} b */
export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

/** RFC 6962 leaf hash: SHA-256(0x00 || leaf). @param {Uint8Array} leaf */
export async function leafHash(leaf) {
  const buf = new Uint8Array(leaf.length + 1);
  buf.set(leaf, 1);
  return sha256(buf);
}

/** RFC 6962 interior node hash: SHA-256(0x01 || left || right). */
export async function nodeHash(left, right) {
  const buf = new Uint8Array(65);
  buf[0] = 1;
  buf.set(left, 1);
  buf.set(right, 33);
  return sha256(buf);
}

/**
 * The root an inclusion proof leads to (RFC 9162 §2.1.3.2), or null when the proof has the wrong
 * shape for (index, size). Indexes stay below 2^53, so halving uses Math.floor, not 32-bit shifts.
 * @param {number} index @param {number} size @param {Uint8Array} leaf hash @param {Uint8Array[]} proof
 */
export async function rootFromInclusionProof(index, size, leaf, proof) {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return null;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (p.length !== 32 || sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

/**
 * Splits a signed note into its signed text and signature lines (C2SP signed-note).
 * @param {string} note
 * @returns {{text: string, signatures: {name: string, keyHint: Uint8Array, signature: Uint8Array}[]}}
 */
export function parseSignedNote(note) {
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) throw new Error('signed note has no signature block');
  const text = note.slice(0, split + 1);
  const signatures = note
    .slice(split + 2, -1)
    .split('\n')
    .map((line) => {
      const m = /^\u2014 (\S+) ([A-Za-z0-9+/]+={0,2})$/.exec(line);
      if (!m) throw new Error('malformed signature line in signed note');
      const raw = fromBase64(m[2]);
      if (raw.length < 5) throw new Error('note signature too short');
      return { name: m[1], keyHint: raw.subarray(0, 4), signature: raw.subarray(4) };
    });
  return { text, signatures };
}

/** Origin, size and root hash of a checkpoint body. @param {string} text */
export function parseCheckpointBody(text) {
  const lines = text.split('\n');
  if (lines.length < 4 || !/^(0|[1-9][0-9]{0,15})$/.test(lines[1])) throw new Error('malformed checkpoint');
  const rootHash = fromBase64(lines[2]);
  if (rootHash.length !== 32) throw new Error('checkpoint root hash is not 32 bytes');
  return { origin: lines[0], size: Number(lines[1]), rootHash };
}

/** DER ECDSA-Sig-Value → the fixed-width r||s form WebCrypto verifies. @param {Uint8Array} der */
export function derToRawSignature(der, width = 32) {
  let i = 0;
  const readLen = () => {
    let len = der[i++];
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n < 1 || n > 2) throw new Error('bad DER length');
      len = 0;
      for (let k = 0; k < n; k++) len = (len << 8) | der[i++];
    }
    return len;
  };
  if (der[i++] !== 0x30) throw new Error('signature is not a DER SEQUENCE');
  const total = readLen();
  if (i + total !== der.length) throw new Error('signature DER length mismatch');
  const out = new Uint8Array(2 * width);
  for (let part = 0; part < 2; part++) {
    if (der[i++] !== 0x02) throw new Error('signature part is not an INTEGER');
    const len = readLen();
    let v = der.subarray(i, i + len);
    i += len;
    while (v.length > 0 && v[0] === 0) v = v.subarray(1);
    if (v.length > width) throw new Error('signature integer too large');
    out.set(v, part * width + width - v.length);
  }
  if (i !== der.length) throw new Error('trailing bytes after signature');
  return out;
}

/** Imports a P-256 `PUBLIC KEY` PEM for ECDSA verification. @param {string} pem */
export async function importP256PublicKey(pem) {
  const b64 = pem.replace(/-----(BEGIN|END) PUBLIC KEY-----/g, '').replace(/\s+/g, '');
  const spki = fromBase64(b64);
  const key = await subtle.importKey('spki', spki, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
  return { key, spki, logId: toHex(await sha256(spki)) };
}

/** ECDSA P-256 / SHA-256 over `data` with a DER signature. */
export async function verifyEcdsa(key, derSignature, data) {
  try {
    const raw = derToRawSignature(derSignature);
    return await subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, raw, data);
  } catch {
    return false;
  }
}

/**
 * Verifies a checkpoint's signature line for `name` with the log key (key hint = logID[0:4]),
 * then parses it. Throws when no line of that key verifies.
 * @param {string} note @param {{key: CryptoKey, logId: string}} logKey @param {string} name
 */
export async function verifyCheckpoint(note, logKey, name) {
  const { text, signatures } = parseSignedNote(note);
  const hint = fromHex(logKey.logId.slice(0, 8));
  const mine = signatures.filter((s) => s.name === name && equalBytes(s.keyHint, hint));
  if (mine.length === 0) throw new Error(`the checkpoint has no signature by ${name} with the log's key`);
  for (const s of mine) {
    if (!(await verifyEcdsa(logKey.key, s.signature, enc.encode(text)))) throw new Error('checkpoint signature does not verify');
  }
  return parseCheckpointBody(text);
}

/** The RFC 8785 text a SET signs: {body, integratedTime, logID, logIndex} (already in JCS key order). */
export function setPayload(entry) {
  return enc.encode(
    `{"body":${JSON.stringify(entry.body)},"integratedTime":${entry.integratedTime},` +
      `"logID":${JSON.stringify(entry.logID)},"logIndex":${entry.logIndex}}`,
  );
}

/**
 * Every check the explorer shows for one Rekor v1 LogEntry, against a checkpoint fetched
 * separately (the latest). Returns one result per check; never throws.
 * @param {{uuid: string, body: string, integratedTime: number, logID: string, logIndex: number,
 *   verification: {signedEntryTimestamp: string, inclusionProof: {logIndex: number, treeSize: number,
 *   rootHash: string, hashes: string[]}}}} entry
 * @param {{note: string, name: string, logKey: {key: CryptoKey, logId: string}}} latest
 */
export async function checkEntry(entry, latest) {
  const results = [];
  const add = (id, ok, detail) => results.push({ id, ok, detail });
  let leaf = null;
  try {
    leaf = await leafHash(fromBase64(entry.body));
    const uuidLeaf = entry.uuid.slice(-64).toLowerCase();
    add('leaf', toHex(leaf) === uuidLeaf, `SHA-256(0x00 ‖ body) = ${toHex(leaf)}`);
  } catch (e) {
    add('leaf', false, `body is not base64: ${e.message}`);
  }
  let checkpoint = null;
  try {
    checkpoint = await verifyCheckpoint(latest.note, latest.logKey, latest.name);
    add('checkpoint', true, `signed by ${latest.name} (log ID ${latest.logKey.logId.slice(0, 16)}…): size ${checkpoint.size}, root ${toHex(checkpoint.rootHash)}`);
  } catch (e) {
    add('checkpoint', false, e.message);
  }
  const p = entry.verification?.inclusionProof;
  if (!leaf || !checkpoint || !p) {
    add('inclusion', false, !p ? 'the entry has no inclusion proof' : 'cannot check without a leaf hash and a verified checkpoint');
  } else if (p.treeSize !== checkpoint.size) {
    add('inclusion', false, `the proof is for tree size ${p.treeSize}, the checkpoint for ${checkpoint.size}`);
  } else {
    try {
      // The proof index is the entry's index within its tree (shard); logIndex is global.
      const root = await rootFromInclusionProof(p.logIndex, p.treeSize, leaf, p.hashes.map(fromHex));
      const ok = root !== null && equalBytes(root, checkpoint.rootHash);
      add(
        'inclusion',
        ok,
        root === null
          ? `the proof (${p.hashes.length} hashes) does not fit index ${p.logIndex} in a tree of ${p.treeSize}`
          : `${p.hashes.length} hashes from leaf ${p.logIndex} lead to ${toHex(root)}${ok ? ' = the checkpoint root' : ', not the checkpoint root'}`,
      );
    } catch (e) {
      add('inclusion', false, e.message);
    }
  }
  try {
    const ok =
      entry.logID === latest.logKey.logId &&
      (await verifyEcdsa(latest.logKey.key, fromBase64(entry.verification.signedEntryTimestamp), setPayload(entry)));
    add('set', ok, ok ? 'the log key signed {body, integratedTime, logID, logIndex}' : 'the signed entry timestamp does not verify with the log key');
  } catch (e) {
    add('set', false, e.message);
  }
  return results;
}
