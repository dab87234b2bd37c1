import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync, verify as nodeVerify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CA_FILES, loadOrCreateCa, loadOrCreateKey } from '../../src/ca/keys.js';
import { createCertificateIssuer } from '../../src/ca/issue.js';
import { createCtLog, spkiOf } from '../../src/ca/ct/log.js';
import { parseSigningCertRequest } from '../../src/ca/request.js';
import { sequenceElements } from '../../src/x509/build.js';
import { CT } from '../../src/x509/oids.js';
import { extensionValue, sctSignedData, tbsWithoutExtension } from '../../src/x509/sct.js';
import { devClaims } from '../../src/oidc/dev-claims.js';
import { issuerFrom } from '../../src/oidc/config.js';
import { principalFromClaims } from '../../src/oidc/principal.js';

const u24 = (b: Buffer, at: number): number => (b[at]! << 16) | (b[at + 1]! << 8) | b[at + 2]!;

/** PrecertChainEntry → precertificate and chain. */
function parseExtra(extra: Buffer): { precert: Buffer; chain: Buffer[] } {
  const n = u24(extra, 0);
  const precert = extra.subarray(3, 3 + n);
  const chainLen = u24(extra, 3 + n);
  const chain: Buffer[] = [];
  for (let p = 6 + n; p < 6 + n + chainLen;) {
    const len = u24(extra, p);
    chain.push(extra.subarray(p + 3, p + 3 + len));
    p += 3 + len;
  }
  assert.equal(6 + n + chainLen, extra.length, 'no trailing bytes');
  return { precert, chain };
}

test('CT entries: leaf TBS = precert TBS without poison = final TBS without SCT list; extra_data durable across reopen', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-ct-extra-'));
  try {
    const ca = await loadOrCreateCa(dir, 'P-256');
    const open = () =>
      createCtLog({
        dataDir: dir,
        key: loadOrCreateKey(join(dir, CA_FILES.ctKey)),
        acceptedRoots: [ca.rootDer],
      });
    let ct = await open();
    const issuer = createCertificateIssuer(ca, ct);
    const principal = principalFromClaims(
      devClaims('https://issuer.example', 'sigstore'),
      issuerFrom({ issuerUrl: 'https://issuer.example', type: 'github-workflow' }),
    );
    const spki = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({
      type: 'spki',
      format: 'der',
    });
    const issued = await Promise.all(Array.from({ length: 5 }, () => issuer.issue(principal, spki)));
    await ct.close();
    ct = await open();
    try {
      const entries = await ct.log.getEntries(0, 5);
      assert.equal(entries.length, 5);
      const extra = await ct.extraData(entries);
      const interKey = createPublicKey({ key: spkiOf(ca.intermediateDer), format: 'der', type: 'spki' });
      const ctKey = createPublicKey({ key: ct.publicKeyDer, format: 'der', type: 'spki' });
      for (const e of entries) {
        const { precert, chain } = parseExtra(extra.get(e.index)!);
        assert.deepEqual(chain, [ca.intermediateDer, ca.rootDer]);
        const [precertTbs, , sigBits] = sequenceElements(precert);
        assert.ok(
          nodeVerify('sha256', precertTbs!, interKey, sigBits!.subarray(3)),
          'precert signed by the intermediate',
        );
        assert.ok(extensionValue(precert, CT.poison), 'precert carries the poison');
        const tbs = tbsWithoutExtension(precert, CT.poison);
        const leafTbs = e.leaf.subarray(47, 47 + u24(e.leaf, 44));
        assert.ok(leafTbs.equals(tbs), 'CT leaf holds the precert TBS without poison');
        const final = issued.find((c) => tbsWithoutExtension(c.leafDer, CT.sctList).equals(tbs));
        assert.ok(final?.sct, 'a final certificate has exactly this TBS without its SCT list');
        const issuerKeyHash = createHash('sha256').update(spkiOf(ca.intermediateDer)).digest();
        assert.ok(e.leaf.subarray(12, 44).equals(issuerKeyHash));
        const signed = sctSignedData({ timestamp: final.sct.timestamp, issuerKeyHash, tbs });
        assert.ok(nodeVerify('sha256', signed, ctKey, final.sct.signature), 'SCT over the final TBS');
      }
    } finally {
      await ct.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('request keys: canonical P-256/P-384 DER is certified as sent; other encodings are re-encoded', async () => {
  for (const namedCurve of ['P-256', 'P-384']) {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve });
    const der = publicKey.export({ type: 'spki', format: 'der' });
    const req = await parseSigningCertRequest(
      {
        credentials: { oidcIdentityToken: 'a.b.c' },
        publicKeyRequest: { publicKey: { content: der.toString('base64') }, proofOfPossession: 'AAAA' },
      },
      undefined,
    );
    assert.ok(req.key.spki.equals(der));
    assert.ok(req.key.key.equals(publicKey));
  }
  // A compressed point takes the generic decoder; what is certified is OpenSSL's re-encoding.
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const x = Buffer.from(jwk.x!, 'base64url');
  const y = Buffer.from(jwk.y!, 'base64url');
  const compressed = Buffer.concat([
    Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex'),
    Buffer.from([2 + (y[31]! & 1)]),
    x,
  ]);
  const req = await parseSigningCertRequest(
    {
      credentials: { oidcIdentityToken: 'a.b.c' },
      publicKeyRequest: { publicKey: { content: compressed.toString('base64') }, proofOfPossession: 'AAAA' },
    },
    undefined,
  );
  const generic = createPublicKey({ key: compressed, format: 'der', type: 'spki' });
  assert.ok(req.key.key.equals(publicKey));
  assert.ok(req.key.spki.equals(generic.export({ type: 'spki', format: 'der' })));
  // A point off the curve is refused.
  const off = Buffer.from(publicKey.export({ type: 'spki', format: 'der' }));
  off[off.length - 1]! ^= 1;
  await assert.rejects(
    parseSigningCertRequest(
      {
        credentials: { oidcIdentityToken: 'a.b.c' },
        publicKeyRequest: { publicKey: { content: off.toString('base64') }, proofOfPossession: 'AAAA' },
      },
      undefined,
    ),
    (e: { code?: string }) => e.code === 'INVALID_KEY',
  );
});
