import 'reflect-metadata';
import { AsnArray, AsnProp, AsnType, AsnTypeTypes, OctetString } from '@peculiar/asn1-schema';

/*
 * RFC 5035 ESS signing-certificate-v2, the signed attribute that binds a timestamp token to the
 * TSA certificate (RFC 3161 §2.4.1 requires an ESS signing-certificate attribute; OpenSSL's
 * `ts -verify` and sigstore-go check it). @peculiar/asn1-cms does not define it.
 *
 * The asn1-schema decorators are applied as plain calls: `bin/sigil.js` runs through tsx from
 * any directory, where no tsconfig turns on experimentalDecorators, and TC39 decorators are not
 * what asn1-schema expects.
 */

export const id_aa_signingCertificateV2 = '1.2.840.113549.1.9.16.2.47';

/**
 * ESSCertIDv2 ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier DEFAULT {id-sha256},
 *   certHash OCTET STRING, issuerSerial IssuerSerial OPTIONAL }
 * hashAlgorithm is left out: sigil always uses SHA-256, the DEFAULT, which DER omits; so is
 * issuerSerial (optional; the hash identifies the certificate).
 */
export class EssCertIdV2 {
  certHash = new OctetString();

  constructor(params: Partial<EssCertIdV2> = {}) {
    Object.assign(this, params);
  }
}
AsnProp({ type: OctetString })(EssCertIdV2.prototype, 'certHash');

export class EssCertIdV2s extends AsnArray<EssCertIdV2> {}
AsnType({ type: AsnTypeTypes.Sequence, itemType: EssCertIdV2 })(EssCertIdV2s);

/** SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2, policies … OPTIONAL } */
export class SigningCertificateV2 {
  certs = new EssCertIdV2s();

  constructor(params: Partial<SigningCertificateV2> = {}) {
    Object.assign(this, params);
  }
}
AsnProp({ type: EssCertIdV2s })(SigningCertificateV2.prototype, 'certs');
