import { SigilError } from '../errors/index.js';
import { BUNDLE_LIMITS } from './bundle.js';
import { FieldReader, parseJsonInput, type Json } from './protojson.js';
import type { KindVersion, TransparencyLogEntry } from './types.js';

/** Rekor v1 JSON uses hex for logID, rootHash and hashes, and integers for indexes and sizes. */
function hex(r: FieldReader, v: unknown, bytes: number): Buffer {
  const s = r.string(v, bytes * 2);
  if (!/^[0-9a-fA-F]*$/.test(s) || s.length !== bytes * 2) r.fail(`must be ${bytes * 2} hex characters`);
  return Buffer.from(s, 'hex');
}

/** kind and apiVersion of a canonical Rekor entry body. */
export function kindVersionOfBody(body: Buffer, r = new FieldReader('INVALID_ENTRY', 'body')): KindVersion {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new SigilError(r.code, `${r.path}: is not JSON`, { cause: e });
  }
  const o = r.object(parsed);
  return { kind: r.at('kind').string(o.kind, 64), version: r.at('apiVersion').string(o.apiVersion, 64) };
}

/**
 * Converts one Rekor v1 log entry (the value under the UUID key of a create/get response, or the
 * whole single-key map) into a bundle TransparencyLogEntry (WIRE §4.3).
 */
export function tlogEntryFromRekor(input: unknown): TransparencyLogEntry {
  const r = new FieldReader('INVALID_ENTRY', 'rekorEntry');
  let o = r.object(parseJsonInput(input, 'INVALID_JSON', 'Rekor entry', BUNDLE_LIMITS.maxBodyBytes * 2));
  if (o.body === undefined) {
    const keys = Object.keys(o);
    if (keys.length !== 1) r.fail('expected one entry keyed by its UUID');
    o = r.at(keys[0]!).object(o[keys[0]!]);
  }
  const body = r.at('body').bytes(o.body, BUNDLE_LIMITS.maxBodyBytes);
  const verification = r.at('verification').optionalObject(o.verification);
  const entry: TransparencyLogEntry = {
    logIndex: r.at('logIndex').int64(o.logIndex),
    logId: hex(r.at('logID'), o.logID, 32),
    kindVersion: kindVersionOfBody(body, r.at('body')),
    integratedTime: r.at('integratedTime').int64(o.integratedTime),
    canonicalizedBody: body,
  };
  if (verification?.signedEntryTimestamp !== undefined) {
    entry.inclusionPromise = {
      signedEntryTimestamp: r
        .at('verification.signedEntryTimestamp')
        .bytes(verification.signedEntryTimestamp, 1024),
    };
  }
  const proof = r.at('verification.inclusionProof').optionalObject(verification?.inclusionProof);
  if (proof) {
    const pr = r.at('verification.inclusionProof');
    const hashes = pr.at('hashes').array(proof.hashes, BUNDLE_LIMITS.maxProofHashes);
    entry.inclusionProof = {
      logIndex: pr.at('logIndex').int64(proof.logIndex),
      rootHash: hex(pr.at('rootHash'), proof.rootHash, 32),
      treeSize: pr.at('treeSize').int64(proof.treeSize),
      hashes: hashes.map((h, i) => hex(pr.at('hashes').at(i), h, 32)),
      checkpoint: pr.at('checkpoint').string(proof.checkpoint, BUNDLE_LIMITS.maxCheckpointBytes),
    };
  }
  return entry;
}

/** The SET input (WIRE §2.5) of an entry, before JCS: body b64, integratedTime, logID hex, logIndex. */
export function setPayloadOf(e: TransparencyLogEntry): Json {
  return {
    body: e.canonicalizedBody.toString('base64'),
    integratedTime: e.integratedTime,
    logID: e.logId.toString('hex'),
    logIndex: e.logIndex,
  };
}
