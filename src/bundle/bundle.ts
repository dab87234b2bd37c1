import { SigilError } from '../errors/index.js';
import { FieldReader, parseJsonInput, type Json } from './protojson.js';
import {
  BUNDLE_MEDIA_TYPES,
  BUNDLE_V03_MEDIA_TYPE,
  type Bundle,
  type BundleContent,
  type HashAlgorithm,
  type InclusionProof,
  type TransparencyLogEntry,
  type VerificationContent,
} from './types.js';

export const BUNDLE_LIMITS = {
  maxBundleBytes: 32 * 1024 * 1024,
  maxTlogEntries: 8,
  /** Leaf plus at most 10 intermediates (plus a root some old bundles include). */
  maxChainCertificates: 12,
  maxCertificateBytes: 64 * 1024,
  maxProofHashes: 64,
  maxBodyBytes: 8 * 1024 * 1024,
  maxCheckpointBytes: 64 * 1024,
  maxDsseSignatures: 16,
  maxPayloadBytes: 16 * 1024 * 1024,
  maxTimestamps: 8,
} as const;

const HASH_ALGORITHMS: readonly HashAlgorithm[] = ['SHA2_256', 'SHA2_384', 'SHA2_512'];

/**
 * Parses and validates a Sigstore bundle (v0.1, v0.2, v0.3) from JSON text, bytes or a parsed
 * object. Throws INVALID_BUNDLE (naming the field), INVALID_JSON or TOO_LARGE.
 */
export function parseBundle(input: unknown): Bundle {
  const json = parseJsonInput(input, 'INVALID_JSON', 'bundle', BUNDLE_LIMITS.maxBundleBytes);
  const r = new FieldReader('INVALID_BUNDLE');
  const doc = r.object(json);
  const mediaType = r.at('mediaType').string(doc.mediaType, 256);
  const version = BUNDLE_MEDIA_TYPES[mediaType];
  if (!version) r.at('mediaType').fail(`unsupported bundle media type ${JSON.stringify(mediaType)}`);
  const vr = r.at('verificationMaterial');
  const vm = vr.object(doc.verificationMaterial);
  const content = parseVerificationContent(vr, vm);
  if (version === '0.3' && content.kind === 'x509CertificateChain') {
    vr.fail('a v0.3 bundle must carry a single certificate, not x509CertificateChain');
  }
  const tlogEntries = r
    .at('verificationMaterial.tlogEntries')
    .array(vm.tlogEntries, BUNDLE_LIMITS.maxTlogEntries)
    .map((e, i) => parseTlogEntry(r.at('verificationMaterial.tlogEntries').at(i), e));
  for (const [i, e] of tlogEntries.entries()) {
    const er = r.at('verificationMaterial.tlogEntries').at(i);
    if (version === '0.1' && !e.inclusionPromise) er.fail('a v0.1 bundle requires an inclusionPromise');
    if (version !== '0.1' && !e.inclusionProof) er.fail(`a v${version} bundle requires an inclusionProof`);
  }
  const tsr = vr.at('timestampVerificationData');
  const tsd = tsr.optionalObject(vm.timestampVerificationData);
  const rfc3161Timestamps = tsr
    .at('rfc3161Timestamps')
    .array(tsd?.rfc3161Timestamps, BUNDLE_LIMITS.maxTimestamps)
    .map((t, i) => {
      const tr = tsr.at('rfc3161Timestamps').at(i);
      return tr.at('signedTimestamp').bytes(tr.object(t).signedTimestamp, 64 * 1024);
    });
  return {
    mediaType,
    version,
    verificationMaterial: { content, tlogEntries, rfc3161Timestamps },
    content: parseContent(r, doc),
  };
}

function parseVerificationContent(r: FieldReader, vm: Json): VerificationContent {
  const present = ['certificate', 'x509CertificateChain', 'publicKey'].filter(
    (k) => vm[k] !== undefined && vm[k] !== null,
  );
  if (present.length !== 1) r.fail('must have exactly one of certificate, x509CertificateChain, publicKey');
  const max = BUNDLE_LIMITS.maxCertificateBytes;
  if (present[0] === 'certificate') {
    const cr = r.at('certificate');
    const certificate = cr.at('rawBytes').bytes(cr.object(vm.certificate).rawBytes, max);
    if (certificate.length === 0) cr.fail('is empty');
    return { kind: 'certificate', certificate };
  }
  if (present[0] === 'x509CertificateChain') {
    const cr = r.at('x509CertificateChain.certificates');
    const chain = r.at('x509CertificateChain').object(vm.x509CertificateChain);
    const certificates = cr
      .array(chain.certificates, BUNDLE_LIMITS.maxChainCertificates)
      .map((c, i) => cr.at(i).at('rawBytes').bytes(cr.at(i).object(c).rawBytes, max));
    if (certificates.length === 0 || certificates.some((c) => c.length === 0))
      cr.fail('must hold at least one certificate');
    return { kind: 'x509CertificateChain', certificates };
  }
  const pr = r.at('publicKey');
  const hint = pr.at('hint').optionalString(pr.object(vm.publicKey).hint, 1024) ?? '';
  return { kind: 'publicKey', hint };
}

export function parseTlogEntry(r: FieldReader, v: unknown): TransparencyLogEntry {
  const e = r.object(v);
  const kv = r.at('kindVersion').object(e.kindVersion);
  const entry: TransparencyLogEntry = {
    logIndex: r.at('logIndex').int64(e.logIndex ?? '0'),
    logId: r.at('logId.keyId').bytes(r.at('logId').object(e.logId).keyId, 64),
    kindVersion: {
      kind: r.at('kindVersion.kind').string(kv.kind, 64),
      version: r.at('kindVersion.version').string(kv.version, 64),
    },
    integratedTime: r.at('integratedTime').int64(e.integratedTime ?? '0'),
    canonicalizedBody: r.at('canonicalizedBody').bytes(e.canonicalizedBody, BUNDLE_LIMITS.maxBodyBytes),
  };
  if (entry.logId.length !== 32) r.at('logId.keyId').fail('must be 32 bytes');
  if (entry.canonicalizedBody.length === 0) r.at('canonicalizedBody').fail('is empty');
  const promise = r.at('inclusionPromise').optionalObject(e.inclusionPromise);
  if (promise) {
    const set = r.at('inclusionPromise.signedEntryTimestamp').bytes(promise.signedEntryTimestamp, 1024);
    if (set.length === 0) r.at('inclusionPromise.signedEntryTimestamp').fail('is empty');
    entry.inclusionPromise = { signedEntryTimestamp: set };
  }
  const proof = r.at('inclusionProof').optionalObject(e.inclusionProof);
  if (proof) entry.inclusionProof = parseInclusionProof(r.at('inclusionProof'), proof);
  return entry;
}

function parseInclusionProof(r: FieldReader, p: Json): InclusionProof {
  const hashes = r
    .at('hashes')
    .array(p.hashes, BUNDLE_LIMITS.maxProofHashes)
    .map((h, i) => {
      const b = r.at('hashes').at(i).bytes(h, 64);
      if (b.length !== 32) r.at('hashes').at(i).fail('must be 32 bytes');
      return b;
    });
  const rootHash = r.at('rootHash').bytes(p.rootHash, 64);
  if (rootHash.length !== 32) r.at('rootHash').fail('must be 32 bytes');
  // A missing checkpoint is refused by verification (CHECKPOINT_INVALID), after the proof itself.
  const cp = r.at('checkpoint').optionalObject(p.checkpoint);
  const proof: InclusionProof = {
    logIndex: r.at('logIndex').int64(p.logIndex ?? '0'),
    rootHash,
    treeSize: r.at('treeSize').int64(p.treeSize ?? '0'),
    hashes,
  };
  if (cp)
    proof.checkpoint = r.at('checkpoint.envelope').string(cp.envelope, BUNDLE_LIMITS.maxCheckpointBytes);
  if (proof.logIndex >= proof.treeSize) r.at('logIndex').fail('must be less than treeSize');
  return proof;
}

function parseContent(r: FieldReader, doc: Json): BundleContent {
  const ms = r.at('messageSignature').optionalObject(doc.messageSignature);
  const de = r.at('dsseEnvelope').optionalObject(doc.dsseEnvelope);
  if ((ms === undefined) === (de === undefined))
    r.fail('must have exactly one of messageSignature, dsseEnvelope');
  if (ms) {
    const mr = r.at('messageSignature');
    const signature = mr.at('signature').bytes(ms.signature, 16 * 1024);
    if (signature.length === 0) mr.at('signature').fail('is empty');
    const md = mr.at('messageDigest').optionalObject(ms.messageDigest);
    if (!md) return { kind: 'messageSignature', signature };
    const algorithm = mr.at('messageDigest.algorithm').string(md.algorithm, 32) as HashAlgorithm;
    if (!HASH_ALGORITHMS.includes(algorithm))
      mr.at('messageDigest.algorithm').fail(`unsupported hash algorithm ${algorithm}`);
    const digest = mr.at('messageDigest.digest').bytes(md.digest, 64);
    if (digest.length !== { SHA2_256: 32, SHA2_384: 48, SHA2_512: 64 }[algorithm]) {
      mr.at('messageDigest.digest').fail(`has the wrong length for ${algorithm}`);
    }
    return { kind: 'messageSignature', messageDigest: { algorithm, digest }, signature };
  }
  const dr = r.at('dsseEnvelope');
  const env = de!;
  const signatures = dr
    .at('signatures')
    .array(env.signatures, BUNDLE_LIMITS.maxDsseSignatures)
    .map((s, i) => {
      const sr = dr.at('signatures').at(i);
      const o = sr.object(s);
      return {
        sig: sr.at('sig').bytes(o.sig, 16 * 1024),
        keyid: sr.at('keyid').optionalString(o.keyid, 1024) ?? '',
      };
    });
  if (signatures.length === 0) dr.at('signatures').fail('must hold a signature');
  return {
    kind: 'dsseEnvelope',
    envelope: {
      payload: dr.at('payload').bytes(env.payload, BUNDLE_LIMITS.maxPayloadBytes),
      payloadType: dr.at('payloadType').string(env.payloadType, 256),
      signatures,
    },
  };
}

const b64 = (b: Buffer): string => b.toString('base64');

/** protojson of a transparency log entry (int64 as strings, bytes as base64). */
export function tlogEntryToJson(e: TransparencyLogEntry): Json {
  const out: Json = {
    logIndex: String(e.logIndex),
    logId: { keyId: b64(e.logId) },
    kindVersion: { kind: e.kindVersion.kind, version: e.kindVersion.version },
    integratedTime: String(e.integratedTime),
  };
  if (e.inclusionPromise)
    out.inclusionPromise = { signedEntryTimestamp: b64(e.inclusionPromise.signedEntryTimestamp) };
  if (e.inclusionProof) {
    const p = e.inclusionProof;
    out.inclusionProof = {
      logIndex: String(p.logIndex),
      rootHash: b64(p.rootHash),
      treeSize: String(p.treeSize),
      hashes: p.hashes.map(b64),
      ...(p.checkpoint !== undefined ? { checkpoint: { envelope: p.checkpoint } } : {}),
    };
  }
  out.canonicalizedBody = b64(e.canonicalizedBody);
  return out;
}

/** Serializes a bundle to its protojson object (JSON.stringify it to write a .sigstore file). */
export function bundleToJson(bundle: Bundle): Json {
  const vm = bundle.verificationMaterial;
  const material: Json = {};
  switch (vm.content.kind) {
    case 'certificate':
      material.certificate = { rawBytes: b64(vm.content.certificate) };
      break;
    case 'x509CertificateChain':
      material.x509CertificateChain = {
        certificates: vm.content.certificates.map((c) => ({ rawBytes: b64(c) })),
      };
      break;
    case 'publicKey':
      material.publicKey = { hint: vm.content.hint };
      break;
  }
  material.tlogEntries = vm.tlogEntries.map(tlogEntryToJson);
  if (vm.rfc3161Timestamps.length > 0) {
    material.timestampVerificationData = {
      rfc3161Timestamps: vm.rfc3161Timestamps.map((t) => ({ signedTimestamp: b64(t) })),
    };
  }
  const out: Json = { mediaType: bundle.mediaType, verificationMaterial: material };
  const c = bundle.content;
  if (c.kind === 'messageSignature') {
    out.messageSignature = {
      ...(c.messageDigest
        ? { messageDigest: { algorithm: c.messageDigest.algorithm, digest: b64(c.messageDigest.digest) } }
        : {}),
      signature: b64(c.signature),
    };
  } else {
    out.dsseEnvelope = {
      payload: b64(c.envelope.payload),
      payloadType: c.envelope.payloadType,
      signatures: c.envelope.signatures.map((s) => ({ sig: b64(s.sig), keyid: s.keyid })),
    };
  }
  return out;
}

export interface BundleV03Input {
  /** DER leaf certificate (keyless) or a public-key hint (key-based). */
  certificate?: Buffer;
  publicKeyHint?: string;
  tlogEntries: TransparencyLogEntry[];
  /** DER TimeStampResp documents (verificationMaterial.timestampVerificationData.rfc3161Timestamps). */
  rfc3161Timestamps?: Buffer[];
  content: BundleContent;
}

/** Builds a v0.3 bundle (what `sigil sign-blob` writes); validated by re-parsing. */
export function createBundleV03(input: BundleV03Input): Bundle {
  if ((input.certificate === undefined) === (input.publicKeyHint === undefined)) {
    throw new SigilError(
      'INVALID_BUNDLE',
      'a bundle needs exactly one of a certificate or a public-key hint',
    );
  }
  const content: VerificationContent = input.certificate
    ? { kind: 'certificate', certificate: input.certificate }
    : { kind: 'publicKey', hint: input.publicKeyHint ?? '' };
  const bundle: Bundle = {
    mediaType: BUNDLE_V03_MEDIA_TYPE,
    version: '0.3',
    verificationMaterial: {
      content,
      tlogEntries: input.tlogEntries,
      rfc3161Timestamps: input.rfc3161Timestamps ?? [],
    },
    content: input.content,
  };
  return parseBundle(bundleToJson(bundle));
}

/** The bundle as pretty JSON text, ready to write to a file. */
export function serializeBundle(bundle: Bundle): string {
  return `${JSON.stringify(bundleToJson(bundle), null, 2)}\n`;
}
