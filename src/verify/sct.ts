import { SigilError } from '../errors/index.js';
import { sha256, verifyData } from '../crypto/index.js';
import { CT } from '../x509/oids.js';
import type { ParsedCertificate } from '../x509/parse.js';
import { parseSctList, sctSignedData, tbsWithoutExtension } from '../x509/sct.js';
import { logKeysAt, type TrustMaterial } from './trust.js';

/**
 * Verifies the SCTs embedded in the leaf against the trusted CT logs (RFC 6962 precert entries)
 * and returns the distinct log IDs that verified. An SCT from a log the trusted root does not
 * know is ignored; one from a known log that fails to verify is an error.
 */
export function verifyEmbeddedScts(
  leaf: ParsedCertificate,
  issuer: ParsedCertificate,
  trust: TrustMaterial,
): string[] {
  if (!leaf.sctList) return [];
  let scts;
  try {
    scts = parseSctList(leaf.sctList);
  } catch (e) {
    throw new SigilError('SCT_FAILED', `SCT: ${(e as Error).message}`, { cause: e });
  }
  const tbs = tbsWithoutExtension(leaf.der, CT.sctList);
  const issuerKeyHash = sha256(issuer.spki);
  const verified = new Set<string>();
  for (const sct of scts) {
    const keys = logKeysAt(trust.ctlogs, sct.logId, new Date(Number(sct.timestamp)));
    if (keys.length === 0) continue;
    const data = sctSignedData({ timestamp: sct.timestamp, issuerKeyHash, tbs, extensions: sct.extensions });
    if (sct.version !== 0 || !keys.some((k) => verifyData(k.publicKey, data, sct.signature))) {
      throw new SigilError(
        'SCT_FAILED',
        `SCT: the timestamp from CT log ${sct.logId.toString('hex')} does not verify`,
      );
    }
    verified.add(sct.logId.toString('hex'));
  }
  return [...verified];
}
