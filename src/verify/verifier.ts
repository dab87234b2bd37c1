import type { KeyObject } from 'node:crypto';
import { SigilError } from '../errors/index.js';
import { VerifyingKey, sha256, spkiDer } from '../crypto/index.js';
import { parseBundle, type Bundle, type HashAlgorithm } from '../bundle/index.js';
import { parseCertificate, sanValues, type ParsedCertificate } from '../x509/parse.js';
import { validateChain } from '../x509/chain.js';
import { checkEntryBody } from './body.js';
import { compilePolicy, matchIdentity, type VerificationPolicy } from './policy.js';
import { VERIFICATION_MEDIA_TYPE, type CheckName, type VerificationResult } from './result.js';
import { verifyEmbeddedScts } from './sct.js';
import { artifactDigest, verifyContentSignature } from './signature.js';
import { verifyTlogEntry, type TlogEntryResult } from './tlog.js';
import type { TrustMaterial } from './trust.js';

export interface VerifyOptions {
  /** Log entries that must verify (default 1). */
  tlogThreshold?: number;
  /** Embedded SCTs from distinct trusted CT logs that must verify (default 1). */
  ctlogThreshold?: number;
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
  return { key: leaf.key, der: leaf.der, leaf, intermediates: ders.slice(1).map((d) => parseCertificate(d)) };
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

/** For DSSE in-toto envelopes given an artifact: its sha256 (or sha512) must be a statement subject. */
function checkStatementSubject(bundle: Bundle, options: VerifyOptions): void {
  if (bundle.content.kind !== 'dsseEnvelope' || options.artifact === undefined) return;
  let subjects: unknown;
  try {
    subjects = (JSON.parse(bundle.content.envelope.payload.toString('utf8')) as { subject?: unknown })
      .subject;
  } catch {
    subjects = undefined;
  }
  const want = {
    sha256: sha256(options.artifact).toString('hex'),
    sha512: artifactDigest('SHA2_512', options.artifact).toString('hex'),
  };
  const ok =
    Array.isArray(subjects) &&
    subjects.some(
      (s: { digest?: Record<string, unknown> }) =>
        s?.digest?.sha256 === want.sha256 || s?.digest?.sha512 === want.sha512,
    );
  if (!ok)
    throw new SigilError('DIGEST_MISMATCH', 'artifact: its digest is not a subject of the in-toto statement');
}

/**
 * The offline verification pipeline: tlog entries (SET, inclusion proof + checkpoint, body
 * cross-check) → certificate chain at the integrated time → SCTs → signature → identity policy.
 * Each failing check throws its own code (TLOG_FAILED, CERTIFICATE_CHAIN_FAILED /
 * CERTIFICATE_EXPIRED, SCT_FAILED, SIGNATURE_MISMATCH, IDENTITY_MISMATCH, DIGEST_MISMATCH …).
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

  // 1. transparency log
  const entries = bundle.verificationMaterial.tlogEntries;
  const tlogResults: TlogEntryResult[] = entries.map((e, i) => {
    const r = verifyTlogEntry(i, e, trust);
    checkEntryBody(e, {
      content: bundle.content,
      signerDer: signer.der,
      ...(messageDigest ? { messageDigestHex: messageDigest.digest.toString('hex') } : {}),
    });
    return r;
  });
  if (tlogResults.length < tlogThreshold) {
    throw new SigilError(
      'TLOG_FAILED',
      `tlog: expected at least ${tlogThreshold} verified log entries, got ${tlogResults.length}`,
    );
  }
  if (tlogThreshold === 0) unsafe.push('tlogThreshold=0');
  if (tlogResults.length > 0) checks.push('tlog');
  const times = tlogResults.filter((r) => r.inclusionPromise).map((r) => r.integratedTime);

  // 2–3. certificate chain at the integrated time, then SCTs
  let ctlogs: string[] = [];
  let path: ParsedCertificate[] = [];
  if (signer.leaf) {
    if (times.length === 0) {
      throw new SigilError(
        'CERTIFICATE_CHAIN_FAILED',
        'certificate chain: no trusted signing time (no verified signed entry timestamp)',
      );
    }
    for (const t of new Set(times)) {
      path = validateChain(signer.leaf, trust.authorities, {
        at: new Date(t * 1000),
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

  // 4. signature
  verifyContentSignature(bundle.content, signer.key, options.artifact, messageDigest);
  checks.push('signature');

  // 5. identity
  if (compiled && signer.leaf) {
    matchIdentity(compiled, signer.leaf);
    if (compiled.identities.length > 0) checks.push('identity');
    else unsafe.push('skipIdentityUnsafe');
  }

  const earliest = times.length > 0 ? Math.min(...times) : undefined;
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
