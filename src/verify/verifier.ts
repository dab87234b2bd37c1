import type { KeyObject } from 'node:crypto';
import { SigilError, isSigilError } from '../errors/index.js';
import { VerifyingKey, sha256, spkiDer } from '../crypto/index.js';
import { checkJsonDepth, parseBundle, type Bundle, type HashAlgorithm } from '../bundle/index.js';
import { parseCertificate, sanValues, type ParsedCertificate } from '../x509/parse.js';
import { validateChain } from '../x509/chain.js';
import { checkEntryBody } from './body.js';
import { compilePolicy, matchIdentity, type VerificationPolicy } from './policy.js';
import { VERIFICATION_MEDIA_TYPE, type CheckName, type VerificationResult } from './result.js';
import { verifyEmbeddedScts } from './sct.js';
import { artifactDigest, verifyContentSignature } from './signature.js';
import { verifyTlogEntry, type VerifiedTlogEntry } from './tlog.js';
import { thresholdError, verifiedTimes, verifyBundleTimestamps } from './times.js';
import type { TrustMaterial } from './trust.js';
import type { WitnessPolicy } from './witness.js';

export interface VerifyOptions {
  /** Distinct logs whose entries must verify (default 1; 0 skips the log entirely, unsafe). */
  tlogThreshold?: number;
  /** Embedded SCTs from distinct trusted CT logs that must verify (default 1). */
  ctlogThreshold?: number;
  /** Distinct timestamp authorities whose RFC 3161 timestamps must verify (default 0). */
  tsaThreshold?: number;
  /** Witnesses whose cosignatures every checkpoint must carry (none by default). */
  witnesses?: WitnessPolicy;
  /** The signed artifact (message signatures; for DSSE its digest must be an in-toto subject). */
  artifact?: Uint8Array;
  /** The artifact's digest when the bytes are not at hand (e.g. an image digest). */
  artifactDigest?: { algorithm: HashAlgorithm; digest: Buffer };
  /** Key-based mode: verify with this public key instead of a certificate chain. */
  publicKey?: KeyObject;
}

interface Signer {
  key: VerifyingKey;
  der: Buffer;
  leaf?: ParsedCertificate;
  intermediates: ParsedCertificate[];
}

function signerOf(bundle: Bundle, options: VerifyOptions): Signer {
  const vm = bundle.verificationMaterial.content;
  if (options.publicKey) {
    if (vm.kind !== 'publicKey') {
      throw new SigilError(
        'VERIFICATION_FAILED',
        'public key: the bundle carries a certificate but a public key was given',
      );
    }
    return {
      key: VerifyingKey.fromKeyObject(options.publicKey),
      der: spkiDer(options.publicKey),
      intermediates: [],
    };
  }
  if (vm.kind === 'publicKey')
    throw new SigilError('VERIFICATION_FAILED', 'the bundle is key-based: verify it with a public key');
  const ders = vm.kind === 'certificate' ? [vm.certificate] : vm.certificates;
  const leaf = parseCertificate(ders[0]!);
  // A root carried in the chain is an untrusted extra (anchors come only from the trusted root),
  // as in sigstore-go and sigstore-js.
  const intermediates = ders.slice(1).map((d) => parseCertificate(d));
  return { key: leaf.key, der: leaf.der, leaf, intermediates };
}

/** Resolves the message digest from the bundle, the artifact and/or the caller's digest; they must agree. */
function resolveDigest(
  bundle: Bundle,
  options: VerifyOptions,
): { algorithm: HashAlgorithm; digest: Buffer } | undefined {
  if (bundle.content.kind !== 'messageSignature') return undefined;
  const fromBundle = bundle.content.messageDigest;
  const algorithm = fromBundle?.algorithm ?? options.artifactDigest?.algorithm ?? 'SHA2_256';
  const candidates: { algorithm: HashAlgorithm; digest: Buffer }[] = [];
  if (options.artifact !== undefined)
    candidates.push({ algorithm, digest: artifactDigest(algorithm, options.artifact) });
  if (options.artifactDigest) candidates.push(options.artifactDigest);
  if (candidates.length === 0) {
    throw new SigilError('INVALID_INPUT', 'verifying a message signature needs the artifact or its digest');
  }
  for (const c of candidates) {
    if (fromBundle && (c.algorithm !== fromBundle.algorithm || !c.digest.equals(fromBundle.digest))) {
      throw new SigilError('DIGEST_MISMATCH', 'artifact: its digest differs from the digest in the bundle');
    }
  }
  if (candidates.length === 2 && !candidates[0]!.digest.equals(candidates[1]!.digest)) {
    throw new SigilError('DIGEST_MISMATCH', 'artifact: the given digest differs from the artifact');
  }
  return fromBundle ?? candidates[0];
}

/** For DSSE in-toto envelopes given an artifact (or its digest): it must be a statement subject. */
function checkStatementSubject(bundle: Bundle, options: VerifyOptions): void {
  if (bundle.content.kind !== 'dsseEnvelope') return;
  if (options.artifact === undefined && options.artifactDigest === undefined) return;
  let subjects: unknown;
  try {
    const text = bundle.content.envelope.payload.toString('utf8');
    checkJsonDepth(text, 'DIGEST_MISMATCH', 'the in-toto statement');
    subjects = (JSON.parse(text) as { subject?: unknown }).subject;
  } catch (e) {
    if (isSigilError(e)) throw e;
    subjects = undefined;
  }
  const given = options.artifactDigest;
  const want: { sha256?: string; sha512?: string } =
    options.artifact !== undefined
      ? {
          sha256: sha256(options.artifact).toString('hex'),
          sha512: artifactDigest('SHA2_512', options.artifact).toString('hex'),
        }
      : { [given!.algorithm === 'SHA2_512' ? 'sha512' : 'sha256']: given!.digest.toString('hex') };
  const ok =
    Array.isArray(subjects) &&
    subjects.some(
      (s: { digest?: Record<string, unknown> }) =>
        (want.sha256 !== undefined && s?.digest?.sha256 === want.sha256) ||
        (want.sha512 !== undefined && s?.digest?.sha512 === want.sha512),
    );
  if (!ok)
    throw new SigilError('DIGEST_MISMATCH', 'artifact: its digest is not a subject of the in-toto statement');
}

/**
 * The offline verification pipeline: signature → RFC 3161 timestamps → tlog entries (SET,
 * inclusion proof + checkpoint, body cross-check) and thresholds → certificate chain at every
 * verified time (SET integrated times, TSA times) → SCTs → identity policy. Each failing check
 * throws its own code (TIMESTAMP_*, TLOG_FAILED, TLOG_ENTRY_MISMATCH, INCLUSION_PROOF_FAILED,
 * CHECKPOINT_INVALID, THRESHOLD_NOT_MET, CERTIFICATE_CHAIN_FAILED / CERTIFICATE_EXPIRED,
 * SCT_FAILED, SIGNATURE_MISMATCH, IDENTITY_MISMATCH, DIGEST_MISMATCH …).
 */
export function verifyBundle(
  trust: TrustMaterial,
  signedThing: Bundle | unknown,
  policy: VerificationPolicy | undefined,
  options: VerifyOptions = {},
): VerificationResult {
  const bundle = isBundle(signedThing) ? signedThing : parseBundle(signedThing);
  const keyMode = options.publicKey !== undefined;
  const compiled = keyMode ? undefined : compilePolicy(policy);
  const tlogThreshold = options.tlogThreshold ?? 1;
  const ctlogThreshold = options.ctlogThreshold ?? 1;
  const unsafe: string[] = [];
  const checks: CheckName[] = [];

  const signer = signerOf(bundle, options);
  const messageDigest = resolveDigest(bundle, options);
  checkStatementSubject(bundle, options);

  // The signature first, so a bad one is reported as such rather than as a log mismatch.
  verifyContentSignature(bundle.content, signer.key, options.artifact, messageDigest);

  // 1. signed timestamps, 2. transparency log
  const stamps = verifyBundleTimestamps(bundle, trust, options.tsaThreshold ?? 0);
  if (stamps.length > 0) checks.push('timestamp');
  const verified: VerifiedTlogEntry[] = [];
  if (tlogThreshold > 0) {
    const entries = new Set<string>();
    for (const [i, e] of bundle.verificationMaterial.tlogEntries.entries()) {
      // A copy of an entry (same log, same body) is refused, as @sigstore/verify does.
      const id = `${e.logId.toString('hex')}\n${e.canonicalizedBody.toString('base64')}`;
      if (entries.has(id))
        throw new SigilError(
          'TLOG_FAILED',
          `tlog entry ${i}: a duplicate of an earlier entry of the same log`,
        );
      entries.add(id);
      verified.push(verifyTlogEntry(i, e, trust, options.witnesses));
      checkEntryBody(e, {
        content: bundle.content,
        signerDer: signer.der,
        ...(messageDigest
          ? {
              messageDigestHex: messageDigest.digest.toString('hex'),
              messageDigestAlgorithm: messageDigest.algorithm,
            }
          : {}),
      });
    }
    const logs = new Set(verified.map((v) => v.result.logId)).size;
    if (logs < tlogThreshold)
      throw thresholdError(
        `tlog: expected verified entries from at least ${tlogThreshold} logs, got ${logs}`,
      );
    checks.push('tlog');
  } else {
    unsafe.push('tlogThreshold=0');
  }
  const tlogResults = verified.map((v) => v.result);
  const times = verifiedTimes(verified, stamps);

  // 3–4. certificate chain at every verified time, then SCTs
  let ctlogs: string[] = [];
  let path: ParsedCertificate[] = [];
  if (signer.leaf) {
    if (times.length === 0) {
      throw thresholdError(
        'certificate chain: no verified signing time (needs a signed entry timestamp or an RFC 3161 timestamp)',
      );
    }
    for (const t of new Set(times.map((d) => d.getTime()))) {
      path = validateChain(signer.leaf, trust.authorities, {
        at: new Date(t),
        untrustedIntermediates: signer.intermediates,
      });
    }
    checks.push('certificate-chain');
    if (ctlogThreshold > 0) {
      ctlogs = verifyEmbeddedScts(signer.leaf, path[1]!, trust);
      if (ctlogs.length < ctlogThreshold) {
        throw new SigilError(
          'SCT_FAILED',
          `SCT: expected at least ${ctlogThreshold} verified SCTs, got ${ctlogs.length}`,
        );
      }
      checks.push('sct');
    } else {
      unsafe.push('ctlogThreshold=0');
    }
  } else {
    checks.push('public-key');
  }

  // 5. signature (verified above)
  checks.push('signature');

  // 6. identity
  if (compiled && signer.leaf) {
    matchIdentity(compiled, signer.leaf);
    if (compiled.identities.length > 0) checks.push('identity');
    else unsafe.push('skipIdentityUnsafe');
  }

  const setTimes = tlogResults.filter((r) => r.inclusionPromise).map((r) => r.integratedTime);
  const earliest = setTimes.length > 0 ? Math.min(...setTimes) : undefined;
  const first = tlogResults.find((r) => r.integratedTime === earliest) ?? tlogResults[0];
  const result: VerificationResult = {
    mediaType: VERIFICATION_MEDIA_TYPE,
    verified: true,
    mode: signer.leaf ? 'certificate' : 'public-key',
    signature:
      bundle.content.kind === 'dsseEnvelope'
        ? { kind: 'dsseEnvelope', payloadType: bundle.content.envelope.payloadType }
        : {
            kind: 'messageSignature',
            ...(messageDigest
              ? { digest: { algorithm: messageDigest.algorithm, hex: messageDigest.digest.toString('hex') } }
              : {}),
          },
    keyId: sha256(signer.key.spki).toString('hex'),
    tlogEntries: tlogResults,
    timestamps: stamps.map((t) => ({ time: t.time.toISOString(), authority: t.uri })),
    ctlogs,
    checks,
    unsafe,
  };
  if (signer.leaf) {
    result.identity = {
      subjectAlternativeNames: sanValues(signer.leaf),
      ...(signer.leaf.oidcIssuer !== undefined ? { issuer: signer.leaf.oidcIssuer } : {}),
      extensions: signer.leaf.fulcio,
    };
    result.certificate = {
      serialNumber: signer.leaf.serialHex,
      notBefore: signer.leaf.notBefore.toISOString(),
      notAfter: signer.leaf.notAfter.toISOString(),
      chainLength: path.length,
    };
  }
  if (earliest !== undefined) {
    result.integratedTime = new Date(earliest * 1000).toISOString();
    result.integratedTimeUnix = earliest;
  }
  if (first) result.logIndex = first.logIndex;
  return result;
}

function isBundle(v: unknown): v is Bundle {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as Bundle).version === 'string' &&
    typeof (v as Bundle).verificationMaterial?.content === 'object' &&
    'kind' in (v as Bundle).content
  );
}
