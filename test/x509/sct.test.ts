import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { X509Certificate, createPublicKey, verify } from 'node:crypto';
import { sha256 } from '../../src/crypto/index.js';
import { CT } from '../../src/x509/oids.js';
import {
  extensionValue,
  parseSctList,
  parseSctListExtensionValue,
  sctListExtensionValue,
  sctSignedData,
  serializeSctList,
  tbsWithoutExtension,
} from '../../src/x509/sct.js';
import { PUBLIC_SIGSTORE_DIR, requireSharedFile } from '../helpers/env.js';
import { isSigilError } from '../../src/errors/index.js';

const FIXTURES = PUBLIC_SIGSTORE_DIR;

test('the embedded SCT of a real public-good Fulcio certificate verifies against the CT log key', (t) => {
  if (!requireSharedFile(t, `${FIXTURES}bundleV01-full-cert-chain.sigstore`)) return;
  const bundle = JSON.parse(readFileSync(`${FIXTURES}bundleV01-full-cert-chain.sigstore`, 'utf8'));
  const root = JSON.parse(readFileSync(`${FIXTURES}trusted_root.json`, 'utf8'));
  const [leafB64, issuerB64] = bundle.verificationMaterial.x509CertificateChain.certificates.map(
    (c: { rawBytes: string }) => c.rawBytes,
  );
  const leaf = Buffer.from(leafB64, 'base64');
  const issuer = new X509Certificate(Buffer.from(issuerB64, 'base64'));
  const scts = parseSctListExtensionValue(extensionValue(leaf, CT.sctList)!);
  assert.equal(scts.length, 1);
  const sct = scts[0]!;
  const log = root.ctlogs.find(
    (l: { logId: { keyId: string } }) => l.logId.keyId === sct.logId.toString('base64'),
  );
  assert.ok(log, 'SCT names a CT log of the trusted root');
  const key = createPublicKey({
    key: Buffer.from(log.publicKey.rawBytes, 'base64'),
    format: 'der',
    type: 'spki',
  });
  const issuerKeyHash = sha256(issuer.publicKey.export({ type: 'spki', format: 'der' }));
  const data = sctSignedData({
    timestamp: sct.timestamp,
    issuerKeyHash,
    tbs: tbsWithoutExtension(leaf, CT.sctList),
    extensions: sct.extensions,
  });
  assert.equal(verify('sha256', data, key, sct.signature), true);
  // One byte of the TBS changed: the signature no longer verifies.
  const tampered = Buffer.from(leaf);
  tampered[200] = tampered[200]! ^ 1;
  const data2 = sctSignedData({
    timestamp: sct.timestamp,
    issuerKeyHash,
    tbs: tbsWithoutExtension(tampered, CT.sctList),
    extensions: sct.extensions,
  });
  assert.equal(verify('sha256', data2, key, sct.signature), false);
  // Round trip of the list encoding.
  assert.deepEqual(parseSctListExtensionValue(sctListExtensionValue(scts)), scts);
  assert.deepEqual(parseSctList(serializeSctList(scts)), scts);
});

test('malformed SCT lists and DER are coded errors', () => {
  for (const bad of [Buffer.alloc(0), Buffer.from([0, 5, 1]), Buffer.from([0, 2, 0, 9])]) {
    assert.throws(
      () => parseSctList(bad),
      (e) => isSigilError(e, 'INVALID_CERTIFICATE'),
    );
  }
  assert.throws(
    () => tbsWithoutExtension(Buffer.from([0x30, 0x85, 1, 1, 1, 1, 1]), CT.sctList),
    (e) => isSigilError(e, 'INVALID_CERTIFICATE'),
  );
});
