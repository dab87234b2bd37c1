import { SigilError } from '../errors/index.js';
import { digest, pemBlocks, preAuthEncoding, sha256, type HashName } from '../crypto/index.js';
import type { BundleContent, TransparencyLogEntry } from '../bundle/index.js';

/** What the log entry body must agree with: the signature, the signer, the digest. */
export interface BodyExpectations {
  content: BundleContent;
  /** DER of the signing certificate, or DER SPKI of the public key. */
  signerDer: Buffer;
  /** Hex digest of the artifact (message signatures): from the bundle or computed from the artifact. */
  messageDigestHex?: string;
  /** Its algorithm (SHA2_256 unless the bundle says otherwise). */
  messageDigestAlgorithm?: string;
}

const V2_HASHES: Record<string, HashName> = { SHA2_256: 'sha256', SHA2_384: 'sha384', SHA2_512: 'sha512' };

type Obj = Record<string, unknown>;

function fail(message: string): never {
  throw new SigilError('TLOG_ENTRY_MISMATCH', `tlog entry body: ${message}`);
}

function obj(v: unknown, what: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(`${what} is missing`);
  return v as Obj;
}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string') fail(`${what} is missing`);
  return v;
}

function b64(v: unknown, what: string): Buffer {
  const s = str(v, what);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s)) fail(`${what} is not base64`);
  return Buffer.from(s, 'base64');
}

/** A body's key field: b64 of a PEM certificate or public key → its DER. */
function signerOf(v: unknown, what: string): Buffer {
  const pem = b64(v, what).toString('utf8');
  const blocks = pemBlocks(pem);
  if (blocks.length !== 1 || (blocks[0]!.type !== 'CERTIFICATE' && blocks[0]!.type !== 'PUBLIC KEY')) {
    fail(`${what} is not one PEM certificate or public key`);
  }
  return blocks[0]!.der;
}

function sameSigner(actual: Buffer, expected: Buffer): void {
  if (!actual.equals(expected)) fail('the logged key/certificate differs from the bundle signer');
}

function soleDsseSignature(content: BundleContent): Buffer {
  if (content.kind !== 'dsseEnvelope') fail('a DSSE entry needs a DSSE envelope in the bundle');
  if (content.envelope.signatures.length !== 1) fail('the envelope must carry exactly one signature');
  return content.envelope.signatures[0]!.sig;
}

function payloadHashMatches(spec: Obj, content: BundleContent): void {
  if (content.kind !== 'dsseEnvelope') return;
  const ph = obj(spec.payloadHash, 'payloadHash');
  if (ph.algorithm !== 'sha256') fail('payloadHash algorithm must be sha256');
  if (str(ph.value, 'payloadHash.value') !== sha256(content.envelope.payload).toString('hex')) {
    fail('the logged DSSE payload hash differs from the envelope payload');
  }
}

/** A Rekor v2 Verifier: the DER certificate or DER SPKI it names. */
function v2Signer(v: unknown, what: string): Buffer {
  const o = obj(v, what);
  const holder = o.x509Certificate ?? o.publicKey;
  const der = b64(obj(holder, `${what}.x509Certificate|publicKey`).rawBytes, `${what} rawBytes`);
  if (der.length === 0) fail(`${what} is empty`);
  return der;
}

function v2Signature(spec: Obj, what: string, x: BodyExpectations, expected: Buffer): void {
  const sig = obj(spec, what);
  if (!b64(sig.content, `${what}.content`).equals(expected))
    fail('the logged signature differs from the bundle signature');
  sameSigner(v2Signer(sig.verifier, `${what}.verifier`), x.signerDer);
}

/** hashedrekord 0.0.2: for DSSE the logged digest is of PAE(payloadType, payload) (rekor-v2 §6.1.4). */
function checkHashedRekordV2(spec: Obj, x: BodyExpectations): void {
  const hr = obj(spec.hashedRekordV002, 'spec.hashedRekordV002');
  const data = obj(hr.data, 'hashedRekordV002.data');
  const algorithm = str(data.algorithm, 'data.algorithm');
  const hash = V2_HASHES[algorithm];
  if (!hash) fail(`unsupported digest algorithm ${algorithm}`);
  const logged = b64(data.digest, 'data.digest').toString('hex');
  if (x.content.kind === 'messageSignature') {
    if ((x.messageDigestAlgorithm ?? 'SHA2_256') !== algorithm || x.messageDigestHex !== logged)
      fail('the logged digest differs from the artifact digest');
    v2Signature(obj(hr.signature, 'signature'), 'hashedRekordV002.signature', x, x.content.signature);
    return;
  }
  const env = x.content.envelope;
  if (digest(hash, preAuthEncoding(env.payloadType, env.payload)).toString('hex') !== logged)
    fail('the logged digest differs from the DSSE envelope (PAE of type and payload)');
  v2Signature(obj(hr.signature, 'signature'), 'hashedRekordV002.signature', x, soleDsseSignature(x.content));
}

/** dsse 0.0.2: the payload hash and the one signature with its verifier. */
function checkDsseV2(spec: Obj, x: BodyExpectations): void {
  const d = obj(spec.dsseV002, 'spec.dsseV002');
  const expected = soleDsseSignature(x.content);
  const ph = obj(d.payloadHash, 'dsseV002.payloadHash');
  const hash = V2_HASHES[str(ph.algorithm, 'payloadHash.algorithm')];
  if (!hash) fail('unsupported payloadHash algorithm');
  if (
    x.content.kind !== 'dsseEnvelope' ||
    !b64(ph.digest, 'payloadHash.digest').equals(digest(hash, x.content.envelope.payload))
  )
    fail('the logged DSSE payload hash differs from the envelope payload');
  const sigs = d.signatures;
  if (!Array.isArray(sigs) || sigs.length !== 1) fail('the logged entry must hold exactly one signature');
  v2Signature(obj(sigs[0], 'signatures[0]'), 'dsseV002.signatures[0]', x, expected);
}

/**
 * Cross-checks a canonical entry body against the bundle (WIRE §4.4): kind/version, signature,
 * signer and digest, for hashedrekord 0.0.1, dsse 0.0.1 and intoto 0.0.2 (Rekor v1) and
 * hashedrekord 0.0.2 and dsse 0.0.2 (Rekor v2).
 */
export function checkEntryBody(entry: TransparencyLogEntry, x: BodyExpectations): void {
  let body: Obj;
  try {
    body = obj(JSON.parse(entry.canonicalizedBody.toString('utf8')), 'body');
  } catch (e) {
    if (e instanceof SigilError) throw e;
    fail('is not JSON');
  }
  const { kind, version } = entry.kindVersion;
  if (body.kind !== kind || body.apiVersion !== version) {
    fail(
      `kind/version ${String(body.kind)}/${String(body.apiVersion)} differs from the entry's ${kind}/${version}`,
    );
  }
  const spec = obj(body.spec, 'spec');
  const key = `${kind}/${version}`;
  switch (key) {
    case 'hashedrekord/0.0.2':
      return checkHashedRekordV2(spec, x);
    case 'dsse/0.0.2':
      return checkDsseV2(spec, x);
    case 'hashedrekord/0.0.1': {
      if (x.content.kind !== 'messageSignature')
        fail('a hashedrekord entry needs a message signature in the bundle');
      const hash = obj(obj(spec.data, 'spec.data').hash, 'spec.data.hash');
      if (hash.algorithm !== 'sha256') fail('only sha256 hashedrekord digests are supported');
      if (
        x.messageDigestHex === undefined ||
        str(hash.value, 'data.hash.value').toLowerCase() !== x.messageDigestHex
      ) {
        fail('the logged digest differs from the artifact digest');
      }
      const sig = obj(spec.signature, 'spec.signature');
      if (!b64(sig.content, 'signature.content').equals(x.content.signature))
        fail('the logged signature differs from the bundle signature');
      sameSigner(
        signerOf(obj(sig.publicKey, 'signature.publicKey').content, 'signature.publicKey.content'),
        x.signerDer,
      );
      return;
    }
    case 'dsse/0.0.1': {
      const expected = soleDsseSignature(x.content);
      payloadHashMatches(spec, x.content);
      const sigs = spec.signatures;
      if (!Array.isArray(sigs) || sigs.length !== 1) fail('the logged entry must hold exactly one signature');
      const s = obj(sigs[0], 'signatures[0]');
      if (!b64(s.signature, 'signature').equals(expected))
        fail('the logged signature differs from the envelope signature');
      sameSigner(signerOf(s.verifier, 'signatures[0].verifier'), x.signerDer);
      return;
    }
    case 'intoto/0.0.2': {
      const expected = soleDsseSignature(x.content);
      payloadHashMatches(obj(spec.content, 'spec.content'), x.content);
      const env = obj(obj(spec.content, 'spec.content').envelope, 'content.envelope');
      const sigs = env.signatures;
      if (!Array.isArray(sigs) || sigs.length !== 1)
        fail('the logged envelope must hold exactly one signature');
      const s = obj(sigs[0], 'envelope.signatures[0]');
      // intoto v0.0.2 stores the signature and key base64-encoded twice.
      const sig = b64(b64(s.sig, 'sig').toString('utf8'), 'sig');
      if (!sig.equals(expected)) fail('the logged signature differs from the envelope signature');
      sameSigner(signerOf(s.publicKey, 'envelope.signatures[0].publicKey'), x.signerDer);
      if (
        x.content.kind === 'dsseEnvelope' &&
        env.payloadType !== undefined &&
        env.payloadType !== x.content.envelope.payloadType
      ) {
        fail('the logged payload type differs from the envelope');
      }
      return;
    }
    default:
      fail(`unsupported entry kind ${key}`);
  }
}
