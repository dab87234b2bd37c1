import { createPublicKey, type KeyObject } from 'node:crypto';
import { SigilError } from '../errors/index.js';
import {
  parseTrustedRoot,
  type TransparencyLogInstance,
  type TrustedRoot,
  type ValidityPeriod,
} from '../bundle/index.js';
import { parseCertificate } from '../x509/parse.js';
import type { CertificateAuthority } from '../x509/chain.js';
import type { TimestampAuthority } from '../timestamp/index.js';

/** A log key from the trusted root, parsed once. */
export interface LogKey {
  baseUrl: string;
  logId: Buffer;
  /** First 4 bytes of checkpointKeyId when set, else of logId (the checkpoint key hint). */
  checkpointKeyHint: Buffer;
  publicKey: KeyObject;
  validFor: ValidityPeriod;
  /** Names its checkpoints may carry: baseUrl's host (with a port, as Rekor v1 writes it) and hostname. */
  noteNames: readonly string[];
}

/**
 * Trust material parsed once for many verifications: log keys by log ID, CA chains as parsed
 * certificates (whose mutual signatures chain.ts caches).
 */
export interface TrustMaterial {
  root: TrustedRoot;
  tlogs: ReadonlyMap<string, LogKey[]>;
  ctlogs: ReadonlyMap<string, LogKey[]>;
  authorities: CertificateAuthority[];
  timestampAuthorities: TimestampAuthority[];
}

function invalidRoot(message: string): never {
  throw new SigilError('TRUST_ROOT_INVALID', `trusted root: ${message}`);
}

/** Trust material is strict: a window without its start is malformed, not unbounded. */
function requireStart(v: ValidityPeriod | undefined, what: string): { start: Date; end?: Date } {
  if (!v?.start) invalidRoot(`${what} has no validFor.start`);
  return { start: v.start, ...(v.end ? { end: v.end } : {}) };
}

function noteNamesOf(baseUrl: string): string[] {
  try {
    const u = new URL(baseUrl);
    return [...new Set([u.host, u.hostname])];
  } catch {
    return [baseUrl];
  }
}

function logKey(l: TransparencyLogInstance, what: string): LogKey {
  let publicKey: KeyObject;
  try {
    const pkcs1 = l.publicKey.keyDetails.startsWith('PKCS1_');
    publicKey = createPublicKey({ key: l.publicKey.rawBytes, format: 'der', type: pkcs1 ? 'pkcs1' : 'spki' });
  } catch (e) {
    throw new SigilError('INVALID_KEY', `${what} ${l.baseUrl}: public key does not parse`, { cause: e });
  }
  return {
    baseUrl: l.baseUrl,
    logId: l.logId,
    checkpointKeyHint: (l.checkpointKeyId ?? l.logId).subarray(0, 4),
    publicKey,
    validFor: requireStart(l.publicKey.validFor, `${what} ${l.baseUrl}`),
    noteNames: noteNamesOf(l.baseUrl),
  };
}

function byLogId(logs: TransparencyLogInstance[], what: string): Map<string, LogKey[]> {
  const m = new Map<string, LogKey[]>();
  for (const l of logs) {
    const k = logKey(l, what);
    const id = k.logId.toString('hex');
    m.set(id, [...(m.get(id) ?? []), k]);
  }
  return m;
}

/** Builds trust material from a parsed trusted root (or its JSON). */
export function createTrustMaterial(input: TrustedRoot | unknown): TrustMaterial {
  const root = isTrustedRoot(input) ? input : parseTrustedRoot(input);
  return {
    root,
    tlogs: byLogId(root.tlogs, 'tlog'),
    ctlogs: byLogId(root.ctlogs, 'ctlog'),
    authorities: root.certificateAuthorities.map((ca) => ({
      uri: ca.uri,
      certChain: ca.certChain.map((der) => parseCertificate(der)),
      validFor: requireStart(ca.validFor, `certificate authority ${ca.uri}`),
    })),
    timestampAuthorities: root.timestampAuthorities.map((tsa) => ({
      uri: tsa.uri,
      certChain: tsa.certChain.map((der) => parseCertificate(der)),
      validFor: requireStart(tsa.validFor, `timestamp authority ${tsa.uri}`),
    })),
  };
}

function isTrustedRoot(v: unknown): v is TrustedRoot {
  return (
    typeof v === 'object' &&
    v !== null &&
    Array.isArray((v as TrustedRoot).tlogs) &&
    (v as TrustedRoot).tlogs.every((t) => Buffer.isBuffer(t.logId))
  );
}

export function validAt(v: ValidityPeriod, at: Date): boolean {
  return (v.start === undefined || v.start <= at) && (v.end === undefined || at <= v.end);
}

/** The keys of log `logId` whose validity covers `at`. */
export function logKeysAt(logs: ReadonlyMap<string, LogKey[]>, logId: Buffer, at: Date): LogKey[] {
  return (logs.get(logId.toString('hex')) ?? []).filter((k) => validAt(k.validFor, at));
}
