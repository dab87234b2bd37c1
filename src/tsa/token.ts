import 'reflect-metadata';
import { createHash, sign as nodeSign, type KeyObject } from 'node:crypto';
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
  CertificateChoices,
  CertificateSet,
  DigestAlgorithmIdentifiers,
  EncapsulatedContent,
  EncapsulatedContentInfo,
  id_signedData,
  IssuerAndSerialNumber,
  SignedData,
  SignerIdentifier,
  SignerInfo,
  SignerInfos,
} from '@peculiar/asn1-cms';
import {
  Accuracy,
  id_ct_tstInfo,
  PKIFailureInfo,
  PKIFreeText,
  PKIStatus,
  PKIStatusInfo,
  TimeStampResp,
  TSTInfo,
} from '@peculiar/asn1-tsp';
import { AlgorithmIdentifier, Certificate, GeneralName } from '@peculiar/asn1-x509';
import { arrayBufferOf, der, HASH_OIDS, integerBytes, oidDer } from './asn1.js';
import { EssCertIdV2, EssCertIdV2s, id_aa_signingCertificateV2, SigningCertificateV2 } from './ess.js';
import type { Refusal, TimestampRequest } from './request.js';
import { templateToken } from './template.js';
import { nativeAddonLoaded, signDigestEc } from '../crypto/prehashed.js';

const ID_CONTENT_TYPE = '1.2.840.113549.1.9.3';
const ID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';

/** The SET OF Attribute that is signed (RFC 5652 §5.4: the DER SET, not the [0] IMPLICIT form). */
class SignedAttributeSet extends AsnArray<Attribute> {}
AsnType({ type: AsnTypeTypes.Set, itemType: Attribute })(SignedAttributeSet);

/**
 * TimeStampToken (a ContentInfo) with its content typed as SignedData rather than ANY, so the
 * whole response is serialized in one pass instead of re-parsing the encoded SignedData.
 */
class SignedDataToken {
  contentType = id_signedData;
  content = new SignedData();

  constructor(params: Partial<SignedDataToken> = {}) {
    Object.assign(this, params);
  }
}
AsnProp({ type: AsnPropTypes.ObjectIdentifier })(SignedDataToken.prototype, 'contentType');
AsnProp({ type: SignedData, context: 0 })(SignedDataToken.prototype, 'content');

/** TimeStampResp with status granted and the typed token. */
class GrantedResponse {
  status = new PKIStatusInfo({ status: PKIStatus.granted });
  timeStampToken = new SignedDataToken();

  constructor(params: Partial<GrantedResponse> = {}) {
    Object.assign(this, params);
  }
}
AsnProp({ type: PKIStatusInfo })(GrantedResponse.prototype, 'status');
AsnProp({ type: SignedDataToken })(GrantedResponse.prototype, 'timeStampToken');

export interface TimestamperOptions {
  key: KeyObject;
  /** DER, leaf first. */
  chainDer: readonly Buffer[];
  policy: string;
  /** Next serial number (never repeats; see serial.ts), when grant is not given one. */
  nextSerial: () => bigint;
  /** Stated accuracy of genTime in milliseconds (default 1000, as sigstore's TSA). */
  accuracyMs?: number;
  now?: () => Date;
  /**
   * 'template' (default): the fixed DER encoded once, the variable parts written per token
   * (template.ts). 'library': every token through asn1-schema, the reference the template is
   * tested against byte for byte.
   */
  builder?: 'template' | 'library';
  /** ECDSA P-256 over the signed attributes, DER signature (default: defaultSigner(key)). */
  signDigest?: SignDigest;
}

export interface Timestamper {
  /** DER TimeStampResp, status granted, with a token over the request's imprint (serial: given, or nextSerial's). */
  grant(req: TimestampRequest, serial?: bigint): { der: Buffer; serial: bigint; genTime: Date };
  /** DER TimeStampResp with status rejection and the failure bit (no token). */
  refuse(refusal: Refusal): Buffer;
}

/**
 * Signs the DER signed attributes (`data`, whose SHA-256 is `digest`); returns a DER
 * ECDSA-Sig-Value. A signer uses whichever of the two its backend takes.
 */
export type SignDigest = (digest: Buffer, data: Buffer) => Buffer;

/**
 * The native addon over the digest (key parsed once; ~19 µs) when it is built, else node:crypto
 * over the data with the KeyObject (~23 µs): not the addon's pure-JS twin, which costs ~620 µs.
 */
export function defaultSigner(key: KeyObject, native = nativeAddonLoaded()): SignDigest {
  return native ? (digest) => signDigestEc(key, digest) : (_digest, data) => nodeSign('sha256', data, key);
}

/** One granted TimeStampResp from the request and the values the TSA chose for it. */
export type BuildToken = (req: TimestampRequest, serial: bigint, genTime: Date, sign: SignDigest) => Buffer;

/** The parts of every token that never change, as asn1-schema objects (built once per key). */
export interface TokenParts {
  leafDer: Buffer;
  policy: string;
  sha256Alg: AlgorithmIdentifier;
  signatureAlg: AlgorithmIdentifier;
  issuerAndSerial: IssuerAndSerialNumber;
  accuracy: Accuracy;
  tsaName: GeneralName;
  leafChoice: CertificateSet;
  /** The signed attributes in DER order, with `digestPlaceholder` where the message digest goes. */
  attributeOrder: Attribute[];
  digestPlaceholder: Attribute;
}

export function tokenParts(chainDer: readonly Buffer[], policy: string, accuracyMs = 1000): TokenParts {
  const leafDer = chainDer[0];
  if (!leafDer) throw new Error('TSA chain is empty');
  const leaf = AsnConvert.parse(leafDer, Certificate);
  const essAttribute = new Attribute({
    attrType: id_aa_signingCertificateV2,
    attrValues: [
      arrayBufferOf(
        der(
          new SigningCertificateV2({
            certs: new EssCertIdV2s([
              new EssCertIdV2({
                certHash: new OctetString(arrayBufferOf(createHash('sha256').update(leafDer).digest())),
              }),
            ]),
          }),
        ),
      ),
    ],
  });
  const contentTypeAttribute = new Attribute({
    attrType: ID_CONTENT_TYPE,
    attrValues: [arrayBufferOf(oidDer(id_ct_tstInfo))],
  });
  // DER orders a SET OF by encoding. The message digest attribute always has the same length,
  // and the three encodings differ before its digest bytes, so the order is fixed: found once.
  const digestPlaceholder = messageDigestAttribute(Buffer.alloc(32));
  return {
    leafDer,
    policy,
    sha256Alg: new AlgorithmIdentifier({ algorithm: HASH_OIDS.sha256 }),
    signatureAlg: new AlgorithmIdentifier({ algorithm: ECDSA_WITH_SHA256 }),
    issuerAndSerial: new IssuerAndSerialNumber({
      issuer: leaf.tbsCertificate.issuer,
      serialNumber: leaf.tbsCertificate.serialNumber,
    }),
    accuracy: new Accuracy({
      ...(accuracyMs >= 1000 ? { seconds: Math.floor(accuracyMs / 1000) } : {}),
      ...(accuracyMs % 1000 ? { millis: accuracyMs % 1000 } : {}),
    }),
    tsaName: new GeneralName({ directoryName: leaf.tbsCertificate.subject }),
    leafChoice: new CertificateSet([new CertificateChoices({ certificate: leaf })]),
    attributeOrder: sortedForDer([contentTypeAttribute, digestPlaceholder, essAttribute]),
    digestPlaceholder,
  };
}

/** The reference builder: the whole response serialized by asn1-schema (asn1-tsp, asn1-cms). */
export function libraryToken(p: TokenParts): BuildToken {
  return (req, serial, genTime, sign) => {
    const tstDer = der(
      new TSTInfo({
        version: 1,
        policy: req.policy ?? p.policy,
        messageImprint: req.imprint,
        serialNumber: arrayBufferOf(integerBytes(serial)),
        genTime,
        accuracy: p.accuracy,
        ordering: false,
        ...(req.nonce ? { nonce: req.nonce } : {}),
        tsa: p.tsaName,
      }),
    );
    const digestAttribute = messageDigestAttribute(sha256(tstDer));
    const attrs = p.attributeOrder.map((a) => (a === p.digestPlaceholder ? digestAttribute : a));
    const signedAttrs = der(new SignedAttributeSet(attrs));
    const signature = sign(sha256(signedAttrs), signedAttrs);
    const signedData = new SignedData({
      version: 3,
      digestAlgorithms: new DigestAlgorithmIdentifiers([p.sha256Alg]),
      encapContentInfo: new EncapsulatedContentInfo({
        eContentType: id_ct_tstInfo,
        eContent: new EncapsulatedContent({ single: new OctetString(arrayBufferOf(tstDer)) }),
      }),
      ...(req.certReq ? { certificates: p.leafChoice } : {}),
      signerInfos: new SignerInfos([
        new SignerInfo({
          version: 1,
          sid: new SignerIdentifier({ issuerAndSerialNumber: p.issuerAndSerial }),
          digestAlgorithm: p.sha256Alg,
          signedAttrs: attrs,
          signatureAlgorithm: p.signatureAlg,
          signature: new OctetString(arrayBufferOf(signature)),
        }),
      ]),
    });
    return der(new GrantedResponse({ timeStampToken: new SignedDataToken({ content: signedData }) }));
  };
}

/**
 * RFC 3161 tokens: TSTInfo in a CMS SignedData signed by the TSA key over DER-sorted signed
 * attributes (content type, message digest, ESS signing-certificate-v2).
 */
export function createTimestamper(opts: TimestamperOptions): Timestamper {
  const parts = tokenParts(opts.chainDer, opts.policy, opts.accuracyMs);
  const build = opts.builder === 'library' ? libraryToken(parts) : templateToken(parts);
  const signDigest = opts.signDigest ?? defaultSigner(opts.key);
  const now = opts.now ?? (() => new Date());
  return {
    grant(req, given) {
      const serial = given ?? opts.nextSerial();
      // Whole seconds (the stated accuracy is 1 s): DER drops a fraction's trailing zeros (.5), and
      // sigstore-js reads only three-digit fractions, so one token in ten failed there.
      const genTime = new Date(Math.floor(now().getTime() / 1000) * 1000);
      return { der: build(req, serial, genTime, signDigest), serial, genTime };
    },
    refuse(refusal) {
      return der(
        new TimeStampResp({
          status: new PKIStatusInfo({
            status: PKIStatus.rejection,
            statusString: new PKIFreeText([refusal.text]),
            failInfo: new PKIFailureInfo(refusal.failInfo),
          }),
        }),
      );
    },
  };
}

export const messageDigestAttribute = (digest: Buffer): Attribute =>
  new Attribute({
    attrType: ID_MESSAGE_DIGEST,
    attrValues: [arrayBufferOf(der(new OctetString(arrayBufferOf(digest))))],
  });

const sha256 = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();

/** DER sorts SET OF by the elements' encodings; OpenSSL re-encodes signed attributes that way. */
function sortedForDer(attrs: Attribute[]): Attribute[] {
  return attrs
    .map((a) => ({ a, d: der(a) }))
    .sort((x, y) => Buffer.compare(x.d, y.d))
    .map((x) => x.a);
}
