import { SigilError, isSigilError } from '../errors/index.js';
import { digest, type HashName } from '../crypto/index.js';
import { validateChain, type CertificateAuthority } from '../x509/chain.js';
import { parseCertificate, type ParsedCertificate } from '../x509/parse.js';
import { octetStringValue, parseTimestampToken, type TimestampToken } from './token.js';
import { setTimestampVerifier } from './loaded.js';

/** A timestamp authority of the trusted root: its chain (leaf first when it has more than the root). */
export interface TimestampAuthority {
  uri: string;
  certChain: ParsedCertificate[];
  validFor: { start: Date; end?: Date };
}

export interface VerifiedTimestamp {
  time: Date;
  /** URI of the authority whose chain verified (each counts once towards a threshold). */
  uri: string;
  serialHex: string;
}

export const EKU_TIME_STAMPING = '1.3.6.1.5.5.7.3.8';
const EXT_KEY_USAGE = '2.5.29.37';
const ATTR_CONTENT_TYPE = '1.2.840.113549.1.9.3';
const ATTR_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
/** DER of OBJECT IDENTIFIER id-ct-TSTInfo (1.2.840.113549.1.9.16.1.4), the content-type attribute's value. */
const TST_INFO_OID_DER = Buffer.from('060b2a864886f70d0109100104', 'hex');
const HASHES: Record<string, HashName> = {
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
/** Signature algorithms whose OID fixes the hash; others (rsaEncryption, id-ecPublicKey) use digestAlgorithm. */
const SIGNATURE_HASHES: Record<string, HashName | null> = {
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.3.101.112': null,
};
const DIGEST_SIGNATURES = new Set(['1.2.840.113549.1.1.1', '1.2.840.10045.2.1']);

const invalid = (m: string): SigilError => new SigilError('TIMESTAMP_INVALID', `timestamp: ${m}`);
const untrusted = (m: string): SigilError => new SigilError('TIMESTAMP_UNTRUSTED', `timestamp: ${m}`);
const outside = (m: string): SigilError => new SigilError('TIMESTAMP_OUTSIDE_VALIDITY', `timestamp: ${m}`);

function hashOf(oid: string, what: string): HashName {
  const h = HASHES[oid];
  if (!h) throw invalid(`unsupported ${what} hash algorithm ${oid}`);
  return h;
}

/** The signer identifier (issuer + serial, or subject key ID) names this certificate. */
function identifies(t: TimestampToken, c: ParsedCertificate): boolean {
  if (t.signer.subjectKeyId) return c.subjectKeyId?.equals(t.signer.subjectKeyId) === true;
  return (
    t.signer.issuer !== undefined &&
    c.issuerName.equals(t.signer.issuer) &&
    c.serialHex.replace(/^(00)+(?=.)/, '') === t.signer.serialHex
  );
}

/** The CMS signature: signed attributes (content type, message digest of the TSTInfo), then the signature. */
function checkSignature(t: TimestampToken, cert: ParsedCertificate): void {
  const s = t.signer;
  const digestHash = hashOf(s.digestOid, 'signer digest');
  const sigHash = s.signatureOid in SIGNATURE_HASHES ? SIGNATURE_HASHES[s.signatureOid] : undefined;
  if (sigHash === undefined && !DIGEST_SIGNATURES.has(s.signatureOid))
    throw invalid(`unsupported signature algorithm ${s.signatureOid}`);
  let signed = t.content;
  if (s.signedAttributes) {
    const attr = (type: string): Buffer => {
      const found = s.attributes.filter((a) => a.type === type);
      if (found.length !== 1 || found[0]!.values.length !== 1)
        throw invalid(`signed attribute ${type} must appear once with one value`);
      return found[0]!.values[0]!;
    };
    if (!attr(ATTR_CONTENT_TYPE).equals(TST_INFO_OID_DER))
      throw invalid('the signed content type is not TSTInfo');
    if (!octetStringValue(attr(ATTR_MESSAGE_DIGEST)).equals(digest(digestHash, t.content)))
      throw invalid('the signed message digest does not match the TSTInfo');
    signed = s.signedAttributes;
  }
  const hash = sigHash === undefined ? digestHash : sigHash;
  if (!cert.key.verify(signed, s.signature, hash ?? undefined))
    throw invalid('the TSA signature does not verify with the signing certificate');
}

function parseEmbedded(der: Buffer): ParsedCertificate {
  try {
    return parseCertificate(der);
  } catch (e) {
    throw invalid(`an embedded certificate does not parse: ${(e as Error).message}`);
  }
}

function checkLeafEku(cert: ParsedCertificate): void {
  const ext = cert.extensions.find((e) => e.oid === EXT_KEY_USAGE);
  if (!ext?.critical || cert.extKeyUsage?.length !== 1 || cert.extKeyUsage[0] !== EKU_TIME_STAMPING)
    throw untrusted('the signing certificate lacks the sole, critical timeStamping extended key usage');
}

function verifyWith(t: TimestampToken, tsa: TimestampAuthority): void {
  const chain = tsa.certChain;
  const tsaLeaf = chain.length > 1 ? chain[0] : undefined;
  // An embedded copy of the TSA's own leaf is the trusted one (parsed once, its chain cached).
  const embedded = t.certificates.map((der) => (tsaLeaf?.der.equals(der) ? tsaLeaf : parseEmbedded(der)));
  const signing =
    embedded.find((c) => identifies(t, c)) ?? (tsaLeaf && identifies(t, tsaLeaf) ? tsaLeaf : undefined);
  if (!signing) throw untrusted(`the signer is not the certificate of TSA ${tsa.uri}`);
  if (tsaLeaf && signing !== tsaLeaf)
    throw untrusted(`the embedded signing certificate is not the one of TSA ${tsa.uri}`);
  checkSignature(t, signing);
  checkLeafEku(signing);
  // The whole chain as trusted certificates: the leaf's signature by its issuer is then checked
  // once per trust material (chain.ts caches signatures between trusted certificates).
  const ca: CertificateAuthority = { certChain: chain, validFor: tsa.validFor };
  const at = t.genTime;
  if (at < tsa.validFor.start || (tsa.validFor.end !== undefined && at > tsa.validFor.end))
    throw outside(
      `genTime ${at.toISOString()} is outside the validity of TSA ${tsa.uri} in the trusted root`,
    );
  try {
    validateChain(signing, [ca], { at, requireCodeSigning: false, pathEku: EKU_TIME_STAMPING });
  } catch (e) {
    if (isSigilError(e, 'CERTIFICATE_EXPIRED')) throw outside(e.message);
    if (isSigilError(e)) throw untrusted(e.message);
    throw e;
  }
}

/**
 * Verifies one RFC 3161 timestamp over `signed` (the artifact signature bytes: for DSSE the
 * envelope signature) against the trusted timestamp authorities; returns the verified time.
 * Throws TIMESTAMP_INVALID (malformed, imprint or signature), TIMESTAMP_UNTRUSTED (no trusted
 * TSA signed it) or TIMESTAMP_OUTSIDE_VALIDITY (genTime outside the TSA's window or certificates).
 */
export function verifyTimestamp(
  der: Uint8Array,
  signed: Uint8Array,
  authorities: readonly TimestampAuthority[],
): VerifiedTimestamp {
  const t = parseTimestampToken(der);
  if (!t.imprint.hashed.equals(digest(hashOf(t.imprint.hashOid, 'message imprint'), signed)))
    throw invalid('the message imprint is not the hash of the signature');
  if (authorities.length === 0) throw untrusted('the trusted root has no timestamp authorities');
  let best: SigilError | undefined;
  for (const tsa of authorities) {
    try {
      verifyWith(t, tsa);
      return { time: t.genTime, uri: tsa.uri, serialHex: t.serialHex };
    } catch (e) {
      if (!isSigilError(e)) throw e;
      // An authority that is the signer explains the failure better than one that is not.
      if (!best || best.code === 'TIMESTAMP_UNTRUSTED') best = e;
      if (e.code === 'TIMESTAMP_INVALID' && /embedded certificate/.test(e.message)) throw e;
    }
  }
  throw best!;
}

setTimestampVerifier(verifyTimestamp);
