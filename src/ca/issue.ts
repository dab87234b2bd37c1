import { createPublicKey } from 'node:crypto';
import type { Principal } from '../oidc/principal.js';
import { toPem } from '../crypto/index.js';
import {
  authorityKeyId,
  ctPoison,
  EMPTY_NAME,
  encodeExtension,
  encodeTbs,
  extKeyUsageCodeSigning,
  keyIdentifier,
  keyUsageDigitalSignature,
  randomSerial,
  signTbs,
  subjectAltName,
  subjectKeyId,
  type Extension,
  type SanValue,
} from '../x509/build.js';
import { fulcioExtensions } from '../x509/extensions.js';
import { CT, FULCIO } from '../x509/oids.js';
import { sctListExtensionValue, type Sct } from '../x509/sct.js';
import type { CaMaterial } from './keys.js';
import { spkiOf, type CtLog } from './ct/log.js';

export const LEAF_VALIDITY_MS = 10 * 60 * 1000;
const POISON = encodeExtension(ctPoison());

export interface IssuedCertificate {
  /** Leaf, intermediate, root (PEM, each ending in a newline). */
  chain: string[];
  leafDer: Buffer;
  /** The SCT embedded in the leaf (absent when the CA runs without a CT log). */
  sct?: Sct;
}

export interface CertificateIssuer {
  /** Issues for the DER SPKI of the requester's (already checked) public key. */
  issue(principal: Principal, spkiDer: Buffer): Promise<IssuedCertificate>;
}

/**
 * Issues Fulcio-profile leaves (WIRE §1.6): with a CT log, a poisoned precertificate is logged
 * first and the final certificate carries the SCT list in the poison's place, so its TBS
 * without the SCT list equals the precertificate TBS without poison.
 */
export function createCertificateIssuer(
  ca: CaMaterial,
  ct?: CtLog,
  now: () => number = Date.now,
): CertificateIssuer {
  assertKeyCertified(ca);
  const issuerChain = [ca.intermediateDer, ca.rootDer];
  return {
    async issue(principal, spki) {
      const notBefore = new Date(Math.floor(now() / 1000) * 1000);
      const base = {
        serial: randomSerial(),
        sigAlg: ca.sigAlg,
        issuerName: ca.issuerName,
        subjectName: EMPTY_NAME,
        notBefore,
        notAfter: new Date(notBefore.getTime() + LEAF_VALIDITY_MS),
        spkiDer: spki,
      };
      const extensions = leafExtensions(principal, spki, ca.issuerKeyId).map(encodeExtension);
      if (!ct) {
        const leafDer = await signTbs(encodeTbs({ ...base, extensions }), ca.sigAlg, ca.intermediateKey);
        return { chain: [toPem('CERTIFICATE', leafDer), ...ca.chainPem], leafDer };
      }
      // The poison and the SCT list are both the last extension, so the precertificate TBS
      // without poison and the final TBS without the SCT list are this same encoding (DER is
      // canonical): the CT leaf and the SCT's signed data cover exactly these bytes.
      const tbs = encodeTbs({ ...base, extensions });
      const precert = await signTbs(
        encodeTbs({ ...base, extensions: [...extensions, POISON] }),
        ca.sigAlg,
        ca.intermediateKey,
      );
      const sct = await ct.addOwnPrecertificate(precert, tbs, issuerChain);
      const sctList = encodeExtension({
        oid: CT.sctList,
        critical: false,
        value: sctListExtensionValue([sct]),
      });
      const leafDer = await signTbs(
        encodeTbs({ ...base, extensions: [...extensions, sctList] }),
        ca.sigAlg,
        ca.intermediateKey,
      );
      return { chain: [toPem('CERTIFICATE', leafDer), ...ca.chainPem], leafDer, sct };
    },
  };
}

/**
 * Leaves and precertificates are not re-verified one by one (the CA signed them a moment ago);
 * the one fault a check would catch, a signing key that is not the one the intermediate
 * certifies, is refused here, once.
 */
function assertKeyCertified(ca: CaMaterial): void {
  const certified = createPublicKey({ key: spkiOf(ca.intermediateDer), format: 'der', type: 'spki' });
  if (!certified.equals(createPublicKey(ca.intermediateKey))) {
    throw new Error('the intermediate key does not match the intermediate certificate');
  }
}

function leafExtensions(principal: Principal, spki: Buffer, issuerKeyId: Buffer): Extension[] {
  const san: SanValue =
    principal.san.kind === 'otherName'
      ? { kind: 'otherName', value: principal.san.value, typeId: FULCIO.otherName }
      : { kind: principal.san.kind, value: principal.san.value };
  return [
    keyUsageDigitalSignature(),
    extKeyUsageCodeSigning(),
    subjectKeyId(keyIdentifier(spki)),
    authorityKeyId(issuerKeyId),
    subjectAltName(san),
    ...fulcioExtensions(principal),
  ];
}
