import {
  AsnArray,
  AsnConvert,
  AsnProp,
  AsnPropTypes,
  AsnType,
  AsnTypeTypes,
  OctetString,
} from '@peculiar/asn1-schema';
import {
  Attribute,
  DigestAlgorithmIdentifiers,
  EncapsulatedContentInfo,
  SignerInfos,
  id_signedData,
} from '@peculiar/asn1-cms';
import { PKIStatusInfo, TSTInfo, id_ct_tstInfo } from '@peculiar/asn1-tsp';
import { SigilError } from '../errors/index.js';

/** An RFC 3161 TimeStampToken (CMS SignedData over a TSTInfo), parsed but not yet verified. */
export interface TimestampToken {
  genTime: Date;
  /** OID of the message imprint's hash and the hashed message. */
  imprint: { hashOid: string; hashed: Buffer };
  serialHex: string;
  /** The DER TSTInfo (the encapsulated content, what the signed attributes' messageDigest covers). */
  content: Buffer;
  /** DER certificates carried in the SignedData (untrusted). */
  certificates: Buffer[];
  signer: {
    /** issuerAndSerialNumber or subjectKeyIdentifier of the signing certificate. */
    issuer?: Buffer;
    serialHex?: string;
    subjectKeyId?: Buffer;
    digestOid: string;
    signatureOid: string;
    /** DER SET OF the signed attributes (what is signed), when present. */
    signedAttributes?: Buffer;
    attributes: { type: string; values: Buffer[] }[];
    signature: Buffer;
  };
}

export const MAX_TIMESTAMP_BYTES = 64 * 1024;
const MAX_CERTIFICATES = 8;
const MAX_ATTRIBUTES = 16;

@AsnType({ type: AsnTypeTypes.Set, itemType: Attribute })
class AttributeSet extends AsnArray<Attribute> {}

@AsnType({ type: AsnTypeTypes.Set, itemType: AsnPropTypes.Any })
class RawSet extends AsnArray<ArrayBuffer> {}

/**
 * CMS SignedData (RFC 5652) with its certificates and CRLs kept as raw DER: sigil's own X.509
 * parser reads the certificates, and the schema parse costs a fraction of the full one.
 */
@AsnType({ type: AsnTypeTypes.Sequence })
class SignedData {
  @AsnProp({ type: AsnPropTypes.Integer })
  version = 0;
  @AsnProp({ type: DigestAlgorithmIdentifiers })
  digestAlgorithms = new DigestAlgorithmIdentifiers();
  @AsnProp({ type: EncapsulatedContentInfo })
  encapContentInfo = new EncapsulatedContentInfo();
  @AsnProp({ type: RawSet, context: 0, implicit: true, optional: true })
  certificates?: RawSet;
  @AsnProp({ type: RawSet, context: 1, implicit: true, optional: true })
  crls?: RawSet;
  @AsnProp({ type: SignerInfos })
  signerInfos = new SignerInfos();
}

/** ContentInfo whose content is the SignedData above, so one parse reads the whole token. */
@AsnType({ type: AsnTypeTypes.Sequence })
class SignedContentInfo {
  @AsnProp({ type: AsnPropTypes.ObjectIdentifier })
  contentType = '';
  @AsnProp({ type: SignedData, context: 0 })
  content = new SignedData();
}

@AsnType({ type: AsnTypeTypes.Sequence })
class TimeStampResponse {
  @AsnProp({ type: PKIStatusInfo })
  status = new PKIStatusInfo();
  @AsnProp({ type: SignedContentInfo, optional: true })
  timeStampToken?: SignedContentInfo;
}

function fail(message: string, cause?: unknown): never {
  throw new SigilError(
    'TIMESTAMP_INVALID',
    `timestamp: ${message}`,
    cause === undefined ? undefined : { cause },
  );
}

function parse<T>(der: ArrayBuffer | Uint8Array, type: new () => T, what: string): T {
  try {
    return AsnConvert.parse(der, type);
  } catch (e) {
    fail(`${what} is not valid DER`, e);
  }
}

const buf = (b: ArrayBuffer | Uint8Array): Buffer =>
  Buffer.from(b instanceof Uint8Array ? b : new Uint8Array(b));
const hex = (b: ArrayBuffer): string =>
  buf(b)
    .toString('hex')
    .replace(/^(00)+(?=.)/, '');

/** The token inside a TimeStampResp (status granted), or the bare TimeStampToken (ContentInfo). */
function contentInfoOf(der: Buffer): SignedContentInfo {
  // A TimeStampResp starts with PKIStatusInfo (a SEQUENCE); a ContentInfo with an OID.
  const inner = der.length > 4 ? der[der[1]! & 0x80 ? 2 + (der[1]! & 0x7f) : 2] : undefined;
  if (inner === 0x30) {
    const resp = parse(der, TimeStampResponse, 'timestamp response');
    if (resp.status.status !== 0 && resp.status.status !== 1)
      fail(`the TSA refused the request (status ${resp.status.status})`);
    if (!resp.timeStampToken) fail('the response carries no token');
    return resp.timeStampToken;
  }
  return parse(der, SignedContentInfo, 'timestamp token');
}

/**
 * Decoded tokens by their bytes, bounded (as parsed keys are): asn1js spends milliseconds on a
 * token with certificates, and the same bundle is verified again and again (admission). Only the
 * decoding is remembered; every check runs on each verification.
 */
const parsed = new Map<string, TimestampToken>();
const MAX_PARSED = 256;

/** Parses a bundle's `signedTimestamp` (TimeStampResp or TimeStampToken DER). Throws TIMESTAMP_INVALID. */
export function parseTimestampToken(input: Uint8Array): TimestampToken {
  const der = Buffer.from(input);
  if (der.length === 0) fail('is empty');
  if (der.length > MAX_TIMESTAMP_BYTES) fail(`is larger than ${MAX_TIMESTAMP_BYTES} bytes`);
  const key = der.toString('latin1');
  const hit = parsed.get(key);
  if (hit) return hit;
  const token = decode(der);
  if (parsed.size >= MAX_PARSED) parsed.delete(parsed.keys().next().value as string);
  parsed.set(key, token);
  return token;
}

function decode(der: Buffer): TimestampToken {
  const ci = contentInfoOf(der);
  if (ci.contentType !== id_signedData) fail('the token is not CMS SignedData');
  const sd = ci.content;
  // The parser tolerates some BER (lengths, tags) that re-encodes differently: the signer's
  // fields, read from the parse, must be the DER that was sent.
  if (!der.includes(buf(AsnConvert.serialize(sd.signerInfos)))) fail('the signer info is not DER-encoded');
  const eci = sd.encapContentInfo;
  if (eci.eContentType !== id_ct_tstInfo) fail('the signed content is not a TSTInfo');
  const content = eci.eContent?.single?.buffer ?? eci.eContent?.any;
  if (!content) fail('the TSTInfo is missing');
  const tst = parse(content, TSTInfo, 'TSTInfo');
  if (sd.signerInfos.length !== 1) fail('the token must carry exactly one signer');
  const si = sd.signerInfos[0]!;
  // Raw items: X.509 certificates are SEQUENCEs; other CertificateChoices (tagged) are skipped.
  const certs = [...(sd.certificates ?? [])].map(buf).filter((c) => c[0] === 0x30);
  if (certs.length > MAX_CERTIFICATES) fail(`carries more than ${MAX_CERTIFICATES} certificates`);
  const attrs = si.signedAttrs ?? [];
  if (attrs.length > MAX_ATTRIBUTES) fail('has too many signed attributes');
  // Signed as a DER SET OF (not under their [0] IMPLICIT tag). Values are kept as raw DER, so
  // re-encoding a DER original gives its bytes back; anything else fails the signature check.
  const signedAttributes = si.signedAttrs
    ? buf(AsnConvert.serialize(new AttributeSet(si.signedAttrs)))
    : undefined;
  const ias = si.sid.issuerAndSerialNumber;
  return {
    genTime: tst.genTime,
    imprint: {
      hashOid: tst.messageImprint.hashAlgorithm.algorithm,
      hashed: buf(tst.messageImprint.hashedMessage.buffer),
    },
    serialHex: hex(tst.serialNumber),
    content: buf(content),
    certificates: certs,
    signer: {
      ...(ias ? { issuer: buf(AsnConvert.serialize(ias.issuer)), serialHex: hex(ias.serialNumber) } : {}),
      ...(si.sid.subjectKeyIdentifier ? { subjectKeyId: buf(si.sid.subjectKeyIdentifier.buffer) } : {}),
      digestOid: si.digestAlgorithm.algorithm,
      signatureOid: si.signatureAlgorithm.algorithm,
      ...(signedAttributes ? { signedAttributes } : {}),
      attributes: attrs.map((a) => ({ type: a.attrType, values: a.attrValues.map(buf) })),
      signature: buf(si.signature.buffer),
    },
  };
}

/** The OCTET STRING content of a DER-encoded attribute value (messageDigest). */
export function octetStringValue(der: Buffer): Buffer {
  return buf(parse(der, OctetString, 'attribute').buffer);
}
