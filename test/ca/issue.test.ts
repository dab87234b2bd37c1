import 'reflect-metadata';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  X509Certificate,
  createHash,
  createPublicKey,
  verify as nodeVerify,
  generateKeyPairSync,
  sign,
} from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { FulcioSigner } from '@sigstore/sign';
import { startStack, type Stack } from './helpers.js';
import { CT, FULCIO, EKU_CODE_SIGNING } from '../../src/x509/oids.js';
import {
  extensionValue,
  parseSctListExtensionValue,
  sctSignedData,
  tbsWithoutExtension,
} from '../../src/x509/sct.js';
import { pemBlocks } from '../../src/crypto/index.js';
import { CA_FILES } from '../../src/ca/keys.js';

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack.close();
});

const derOf = (pem: string): Buffer => pemBlocks(pem)[0]!.der;

/** Checks the embedded SCT against the CT log key exactly as a verifier rebuilds it. */
function checkSct(leafDer: Buffer, issuerDer: Buffer, ctKeyPem: string): void {
  const ext = extensionValue(leafDer, CT.sctList);
  assert.ok(ext, 'leaf carries an SCT list');
  const [sct] = parseSctListExtensionValue(ext);
  assert.ok(sct);
  const ctKey = createPublicKey(ctKeyPem);
  const logId = createHash('sha256')
    .update(ctKey.export({ type: 'spki', format: 'der' }))
    .digest();
  assert.ok(sct.logId.equals(logId), 'SCT log id is the CT key hash');
  const issuerSpki = new X509Certificate(issuerDer).publicKey.export({ type: 'spki', format: 'der' });
  const signed = sctSignedData({
    timestamp: sct.timestamp,
    issuerKeyHash: createHash('sha256').update(issuerSpki).digest(),
    tbs: tbsWithoutExtension(leafDer, CT.sctList),
  });
  assert.ok(nodeVerify('sha256', signed, ctKey, sct.signature), 'SCT signature verifies');
  const tampered = Buffer.from(signed);
  tampered[tampered.length - 10]! ^= 1;
  assert.ok(!nodeVerify('sha256', tampered, ctKey, sct.signature));
}

test('@sigstore/sign FulcioSigner gets a Fulcio-profile certificate with an embedded SCT', async () => {
  const token = await stack.oidc.mint();
  const signer = new FulcioSigner({
    fulcioBaseURL: stack.ca.url,
    identityProvider: { getToken: async () => token },
  });
  const sig = await signer.sign(Buffer.from('hello'));
  assert.equal(sig.key.$case, 'x509Certificate');
  const leafPem = (sig.key as { certificate: string }).certificate;
  const leafDer = derOf(leafPem);
  const bundle = (await (await fetch(`${stack.ca.url}/api/v2/trustBundle`)).json()) as {
    chains: { certificates: string[] }[];
  };
  const [interPem, rootPem] = bundle.chains[0]!.certificates as [string, string];
  const leaf = new X509Certificate(leafDer);
  const inter = new X509Certificate(interPem);
  const root = new X509Certificate(rootPem);
  assert.ok(leaf.verify(inter.publicKey) && inter.verify(root.publicKey) && root.verify(root.publicKey));
  assert.ok(leaf.checkIssued(inter));
  assert.ok(nodeVerify('sha256', Buffer.from('hello'), leaf.publicKey, Buffer.from(sig.signature)));

  const validMs = Date.parse(leaf.validTo) - Date.parse(leaf.validFrom);
  assert.equal(validMs, 10 * 60 * 1000);
  const p = new x509.X509Certificate(leafDer);
  assert.equal(p.subject, '');
  assert.equal(p.serialNumber.length, 40, '160-bit serial');
  assert.ok(parseInt(p.serialNumber[0]!, 16) < 8, 'positive serial');
  const san = p.getExtension(x509.SubjectAlternativeNameExtension)!;
  assert.ok(san.critical);
  assert.deepEqual(
    san.names.items.map((n) => [n.type, n.value]),
    [['url', 'https://github.com/org/repo/.github/workflows/CI-CD.yml@refs/heads/main']],
  );
  const ku = p.getExtension(x509.KeyUsagesExtension)!;
  assert.equal(ku.usages, x509.KeyUsageFlags.digitalSignature);
  assert.deepEqual([...p.getExtension(x509.ExtendedKeyUsageExtension)!.usages], [EKU_CODE_SIGNING]);
  const ski = p.getExtension(x509.SubjectKeyIdentifierExtension)!;
  const aki = p.getExtension(x509.AuthorityKeyIdentifierExtension)!;
  const interSki = new x509.X509Certificate(interPem).getExtension(x509.SubjectKeyIdentifierExtension)!;
  assert.equal(aki.keyId, interSki.keyId);
  assert.equal(ski.keyId.length, 40);

  const ext = (oid: string): Buffer | undefined => {
    const e = p.extensions.find((x) => x.type === oid);
    return e ? Buffer.from(e.value) : undefined;
  };
  const utf8 = (s: string): Buffer =>
    Buffer.concat([Buffer.from([0x0c, Buffer.byteLength(s)]), Buffer.from(s)]);
  assert.deepEqual(ext(FULCIO.issuerV1), Buffer.from(stack.oidc.issuer));
  assert.deepEqual(ext(FULCIO.issuerV2), utf8(stack.oidc.issuer));
  assert.deepEqual(ext(FULCIO.tokenSubject), utf8('repo:org/repo:ref:refs/heads/main'));
  assert.deepEqual(ext(FULCIO.githubWorkflowRepository), Buffer.from('org/repo'));
  assert.deepEqual(
    ext(FULCIO.buildSignerURI),
    utf8('https://github.com/org/repo/.github/workflows/CI-CD.yml@refs/heads/main'),
  );
  assert.deepEqual(ext(FULCIO.sourceRepositoryURI), utf8('https://github.com/org/repo'));
  assert.deepEqual(
    ext(FULCIO.runInvocationURI),
    utf8('https://github.com/org/repo/actions/runs/1234567890/attempts/1'),
  );
  assert.deepEqual(ext(FULCIO.runnerEnvironment), utf8('github-hosted'));
  assert.equal(ext(FULCIO.deploymentEnvironment), undefined);
  assert.equal(ext(CT.poison), undefined);

  const ctKeyPem = await (await fetch(`${stack.ca.url}/ct/v1/public-key`)).text();
  checkSct(leafDer, derOf(interPem), ctKeyPem);

  for (const f of [CA_FILES.rootKey, CA_FILES.intermediateKey, CA_FILES.ctKey]) {
    assert.equal(statSync(join(stack.dir, 'ca', f)).mode & 0o777, 0o600, f);
  }
});

test('the CT log records the precertificate: STH, inclusion proof and entries', async () => {
  const token = await stack.oidc.mint();
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const res = await fetch(`${stack.ca.url}/api/v2/signingCert`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      publicKeyRequest: {
        publicKey: { algorithm: 'ECDSA', content: publicKey.export({ type: 'spki', format: 'pem' }) },
        proofOfPossession: sign(
          'sha256',
          Buffer.from('repo:org/repo:ref:refs/heads/main'),
          privateKey,
        ).toString('base64'),
      },
    }),
  });
  assert.equal(res.status, 200);
  const sth = (await (await fetch(`${stack.ca.url}/ct/v1/get-sth`)).json()) as Record<string, unknown>;
  assert.ok((sth.tree_size as number) >= 1);
  const size = sth.tree_size as number;
  const ctKey = createPublicKey(await (await fetch(`${stack.ca.url}/ct/v1/public-key`)).text());
  const sigStruct = Buffer.from(sth.tree_head_signature as string, 'base64');
  assert.deepEqual([...sigStruct.subarray(0, 2)], [4, 3]);
  const signed = Buffer.alloc(2 + 8 + 8 + 32);
  signed[1] = 1;
  signed.writeBigUInt64BE(BigInt(sth.timestamp as number), 2);
  signed.writeBigUInt64BE(BigInt(size), 10);
  Buffer.from(sth.sha256_root_hash as string, 'base64').copy(signed, 18);
  assert.ok(nodeVerify('sha256', signed, ctKey, sigStruct.subarray(4)), 'STH signature verifies');

  const entries = (await (
    await fetch(`${stack.ca.url}/ct/v1/get-entries?start=0&end=${size - 1}`)
  ).json()) as {
    entries: { leaf_input: string; extra_data: string }[];
  };
  assert.equal(entries.entries.length, size);
  const leafInput = Buffer.from(entries.entries[size - 1]!.leaf_input, 'base64');
  assert.deepEqual([...leafInput.subarray(0, 2)], [0, 0]);
  assert.equal(leafInput.readUInt16BE(10), 1, 'precert_entry');
  assert.ok(Buffer.from(entries.entries[size - 1]!.extra_data, 'base64').length > 500, 'precert chain kept');
  const hash = createHash('sha256')
    .update(Buffer.concat([Buffer.from([0]), leafInput]))
    .digest();
  const proof = (await (
    await fetch(
      `${stack.ca.url}/ct/v1/get-proof-by-hash?hash=${encodeURIComponent(hash.toString('base64'))}&tree_size=${size}`,
    )
  ).json()) as { leaf_index: number; audit_path: string[] };
  assert.equal(proof.leaf_index, size - 1);
  const bad = await fetch(`${stack.ca.url}/ct/v1/get-entries?start=5&end=1`);
  assert.equal(bad.status, 400);
  const cons = await fetch(`${stack.ca.url}/ct/v1/get-sth-consistency?first=1&second=${size}`);
  assert.equal(cons.status, 200);
});

test('configuration and trust bundle describe the CA', async () => {
  const conf = (await (await fetch(`${stack.ca.url}/api/v2/configuration`)).json()) as {
    issuers: Record<string, unknown>[];
  };
  assert.deepEqual(conf.issuers[0], {
    issuerUrl: stack.oidc.issuer,
    audience: 'sigstore',
    challengeClaim: 'sub',
    issuerType: 'github-workflow',
  });
  assert.equal(conf.issuers[1]!.challengeClaim, 'email');
});
