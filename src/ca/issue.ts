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
import type { CtLog } from './ct/log.js';

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
      let sct: Sct | undefined;
      let last: Buffer[] = [];
      if (ct) {
        const precert = await signTbs(
          encodeTbs({ ...base, extensions: [...extensions, POISON] }),
          ca.sigAlg,
          ca.intermediateKey,
        );
        sct = await ct.addPreChain([precert, ca.intermediateDer, ca.rootDer]);
        last = [encodeExtension({ oid: CT.sctList, critical: false, value: sctListExtensionValue([sct]) })];
      }
      const leafDer = await signTbs(
        encodeTbs({ ...base, extensions: [...extensions, ...last] }),
        ca.sigAlg,
        ca.intermediateKey,
      );
      return { chain: [toPem('CERTIFICATE', leafDer), ...ca.chainPem], leafDer, ...(sct ? { sct } : {}) };
    },
  };
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
