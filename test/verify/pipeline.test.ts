import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TrustedRoot as SpecTrustedRoot } from '@sigstore/protobuf-specs';
import { bundleFromJSON } from '@sigstore/bundle';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
import { isSigilError } from '../../src/errors/index.js';
import { canonicalJson, generateP256, sha256, signData, spkiDer, toPem } from '../../src/crypto/index.js';
import { leafHash } from '../../src/merkle/index.js';
import {
  TRUSTED_ROOT_MEDIA_TYPE,
  bundleToJson,
  cosignRekorBundleAnnotation,
  createBundleV03,
  ecdsaKeyHint,
  formatCheckpoint,
  setPayloadOf,
  signNote,
  trustedRootToJson,
  type Bundle,
  type TransparencyLogEntry,
  type TrustedRoot,
} from '../../src/bundle/index.js';
import {
  createTrustMaterial,
  verifyBundle,
  verifyCosignImage,
  checkCosignSignatures,
  type VerificationPolicy,
} from '../../src/verify/index.js';
import { issue } from '../x509/test-ca.js';

const T0 = new Date('2024-01-01T00:00:00Z');
const T_END = new Date('2034-01-01T00:00:00Z');
const SIGNED_AT = new Date('2024-06-01T00:05:00Z');
const WORKFLOW = 'https://github.com/org/repo/.github/workflows/CI-CD.yml@refs/heads/main';
const ISSUER = 'http://127.0.0.1:8080';

const root = await issue({ name: 'root', notBefore: T0, notAfter: T_END, ca: true });
const inter = await issue({
  name: 'inter',
  issuer: root,
  notBefore: T0,
  notAfter: T_END,
  ca: true,
  pathLen: 0,
  codeSigning: true,
});
const leaf = await issue({
  name: 'leaf',
  issuer: inter,
  notBefore: new Date('2024-06-01T00:00:00Z'),
  notAfter: new Date('2024-06-01T00:10:00Z'),
  san: { type: 'url', value: WORKFLOW },
  fulcio: {
    issuerV1: ISSUER,
    issuerV2: ISSUER,
    githubWorkflowTrigger: 'push',
    githubWorkflowSha: 'a'.repeat(40),
    githubWorkflowName: 'CI-CD',
    githubWorkflowRepository: 'org/repo',
    githubWorkflowRef: 'refs/heads/main',
    runnerEnvironment: 'github-hosted',
  },
});
const log = generateP256();
const logSpki = spkiDer(log.publicKey);
const logId = sha256(logSpki);

const trustedRoot: TrustedRoot = {
  mediaType: TRUSTED_ROOT_MEDIA_TYPE,
  tlogs: [
    {
      baseUrl: 'http://localhost:3000',
      hashAlgorithm: 'SHA2_256',
      publicKey: { rawBytes: logSpki, keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start: T0 } },
      logId,
    },
  ],
  certificateAuthorities: [
    { uri: 'http://localhost:5555', certChain: [inter.der, root.der], validFor: { start: T0 } },
  ],
  ctlogs: [],
  timestampAuthorities: [],
};
const trust = createTrustMaterial(trustedRoot);
const policy: VerificationPolicy = {
  identities: [
    { subjectRegExp: '^https://github.com/org/repo/.github/workflows/CI-CD.yml@.*', issuer: ISSUER },
  ],
};
const NO_CT = { ctlogThreshold: 0 };

/** A one-entry log: hashedrekord body, SET, inclusion proof and a signed checkpoint. */
function logEntry(signerPem: string, signature: Buffer, digestHex: string): TransparencyLogEntry {
  const body = canonicalJson({
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: digestHex } },
      signature: {
        content: signature.toString('base64'),
        publicKey: { content: Buffer.from(signerPem).toString('base64') },
      },
    },
  });
  const entry: TransparencyLogEntry = {
    logIndex: 0,
    logId,
    kindVersion: { kind: 'hashedrekord', version: '0.0.1' },
    integratedTime: SIGNED_AT.getTime() / 1000,
    canonicalizedBody: body,
  };
  entry.inclusionPromise = {
    signedEntryTimestamp: signData(log.privateKey, canonicalJson(setPayloadOf(entry))),
  };
  const rootHash = leafHash(body);
  const checkpoint = signNote(
    formatCheckpoint({ origin: 'localhost - 1', size: 1, rootHash, extensions: [] }),
    'localhost',
    log.privateKey,
    ecdsaKeyHint(log.publicKey),
  );
  entry.inclusionProof = { logIndex: 0, rootHash, treeSize: 1, hashes: [], checkpoint };
  return entry;
}

const artifact = Buffer.from('hello, sigil\n');
const signature = signData(leaf.privateKey, artifact);
const leafPem = toPem('CERTIFICATE', leaf.der);
const bundle: Bundle = createBundleV03({
  certificate: leaf.der,
  tlogEntries: [logEntry(leafPem, signature, sha256(artifact).toString('hex'))],
  content: {
    kind: 'messageSignature',
    messageDigest: { algorithm: 'SHA2_256', digest: sha256(artifact) },
    signature,
  },
});

function rejects(fn: () => unknown, code: string, re?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isSigilError(e), String(e));
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  });
}

test('a keyless hashedrekord bundle verifies over the artifact and over its digest alone', () => {
  const r = verifyBundle(trust, bundle, policy, { ...NO_CT, artifact });
  assert.deepEqual(r.checks, ['tlog', 'certificate-chain', 'signature', 'identity']);
  assert.deepEqual(r.unsafe, ['ctlogThreshold=0']);
  assert.equal(r.integratedTime, SIGNED_AT.toISOString());
  assert.deepEqual(r.tlogEntries[0], {
    logIndex: 0,
    logId: logId.toString('hex'),
    integratedTime: SIGNED_AT.getTime() / 1000,
    inclusionPromise: true,
    inclusionProof: true,
    rekorV2: false,
  });
  assert.equal(r.identity?.issuer, ISSUER);
  assert.equal(r.identity?.extensions.runnerEnvironment, 'github-hosted');
  const byDigest = verifyBundle(trust, bundleToJson(bundle), policy, {
    ...NO_CT,
    artifactDigest: { algorithm: 'SHA2_256', digest: sha256(artifact) },
  });
  assert.equal(byDigest.signature.digest?.hex, sha256(artifact).toString('hex'));
  rejects(
    () => verifyBundle(trust, bundle, policy, { ...NO_CT, artifact: Buffer.from('other') }),
    'DIGEST_MISMATCH',
  );
  rejects(() => verifyBundle(trust, bundle, policy, NO_CT), 'INVALID_INPUT', /artifact or its digest/);
  rejects(
    () => verifyBundle(trust, bundle, policy, { artifact }),
    'SCT_FAILED',
    /expected at least 1 verified SCTs, got 0/,
  );
});

test('the official @sigstore/verify accepts the bundle sigil wrote', () => {
  const official = new Verifier(toTrustMaterial(SpecTrustedRoot.fromJSON(trustedRootToJson(trustedRoot))), {
    tlogThreshold: 1,
    ctlogThreshold: 0,
  });
  const signer = official.verify(toSignedEntity(bundleFromJSON(bundleToJson(bundle)), artifact), {
    subjectAlternativeName: WORKFLOW,
    extensions: { issuer: ISSUER },
  });
  assert.equal(signer.identity?.subjectAlternativeName, WORKFLOW);
});

test('a message signature by another key is refused (signature check)', () => {
  const other = generateP256();
  const forged = signData(other.privateKey, artifact);
  const b = createBundleV03({
    certificate: leaf.der,
    tlogEntries: [logEntry(leafPem, forged, sha256(artifact).toString('hex'))],
    content: {
      kind: 'messageSignature',
      messageDigest: { algorithm: 'SHA2_256', digest: sha256(artifact) },
      signature: forged,
    },
  });
  rejects(() => verifyBundle(trust, b, policy, { ...NO_CT, artifact }), 'SIGNATURE_MISMATCH', /^signature:/);
  rejects(
    () =>
      verifyBundle(trust, b, policy, {
        ...NO_CT,
        artifactDigest: { algorithm: 'SHA2_256', digest: sha256(artifact) },
      }),
    'SIGNATURE_MISMATCH',
  );
});

test('policy: required, exact vs regexp, anchoring, workflow extensions and OIDs', () => {
  const v = (p: VerificationPolicy | undefined) => verifyBundle(trust, bundle, p, { ...NO_CT, artifact });
  rejects(() => v(undefined), 'POLICY_REQUIRED');
  rejects(() => v({}), 'POLICY_REQUIRED');
  rejects(() => v({ identities: [{ subject: WORKFLOW }] }), 'POLICY_REQUIRED', /issuer/);
  rejects(
    () => v({ identities: [{ subject: WORKFLOW, subjectRegExp: '.*', issuer: ISSUER }] }),
    'INVALID_POLICY',
    /not both/,
  );
  rejects(() => v({ identities: [{ subjectRegExp: 'a'.repeat(1025), issuer: ISSUER }] }), 'INVALID_POLICY');
  rejects(() => v({ identities: [{ subjectRegExp: '(', issuer: ISSUER }] }), 'INVALID_POLICY');
  assert.deepEqual(v({ skipIdentityUnsafe: true }).unsafe, ['ctlogThreshold=0', 'skipIdentityUnsafe']);
  assert.ok(v({ identities: [{ subject: WORKFLOW, issuer: ISSUER }] }));
  rejects(
    () => v({ identities: [{ subject: WORKFLOW.slice(0, -1), issuer: ISSUER }] }),
    'IDENTITY_MISMATCH',
    /subject/,
  );
  // regexps are unanchored unless anchored, as in cosign
  assert.ok(v({ identities: [{ subjectRegExp: 'workflows/CI-CD', issuer: ISSUER }] }));
  rejects(
    () => v({ identities: [{ subjectRegExp: '^workflows/CI-CD', issuer: ISSUER }] }),
    'IDENTITY_MISMATCH',
  );
  rejects(
    () =>
      v({
        identities: [
          { subjectRegExp: '^https://github.com/org/repo/.github/workflows/other.yml@.*', issuer: ISSUER },
        ],
      }),
    'IDENTITY_MISMATCH',
  );
  assert.ok(v({ identities: [{ subject: WORKFLOW, issuerRegExp: '^http://127\\.0\\.0\\.1:\\d+$' }] }));
  rejects(
    () => v({ identities: [{ subject: WORKFLOW, issuer: 'https://token.actions.githubusercontent.com' }] }),
    'IDENTITY_MISMATCH',
    /issuer/,
  );
  const wf = { subject: WORKFLOW, issuer: ISSUER };
  assert.ok(
    v({
      identities: [
        {
          ...wf,
          githubWorkflowTrigger: 'push',
          githubWorkflowSha: 'a'.repeat(40),
          githubWorkflowName: 'CI-CD',
          githubWorkflowRepository: 'org/repo',
          githubWorkflowRef: 'refs/heads/main',
        },
      ],
    }),
  );
  rejects(
    () => v({ identities: [{ ...wf, githubWorkflowTrigger: 'pull_request' }] }),
    'IDENTITY_MISMATCH',
    /GitHub workflow trigger \(got "push"\)/,
  );
  rejects(
    () => v({ identities: [{ ...wf, githubWorkflowRepository: 'org/other' }] }),
    'IDENTITY_MISMATCH',
    /repository/,
  );
  assert.ok(
    v({
      identities: [
        { ...wf, extensions: { '1.3.6.1.4.1.57264.1.11': 'github-hosted', '1.3.6.1.4.1.57264.1.2': 'push' } },
      ],
    }),
  );
  rejects(
    () => v({ identities: [{ ...wf, extensions: { '1.3.6.1.4.1.57264.1.11': 'self-hosted' } }] }),
    'IDENTITY_MISMATCH',
  );
  rejects(() => v({ identities: [{ ...wf, extensions: { 'not.an.oid': 'x' } }] }), 'INVALID_POLICY');
  // any of several identities may match
  assert.ok(v({ identities: [{ subject: 'someone@else', issuer: ISSUER }, wf] }));
});

test('key-based mode: a public key instead of a certificate', () => {
  const key = generateP256();
  const sig = signData(key.privateKey, artifact);
  const keyPem = toPem('PUBLIC KEY', spkiDer(key.publicKey));
  const b = createBundleV03({
    publicKeyHint: 'test-key',
    tlogEntries: [logEntry(keyPem, sig, sha256(artifact).toString('hex'))],
    content: {
      kind: 'messageSignature',
      messageDigest: { algorithm: 'SHA2_256', digest: sha256(artifact) },
      signature: sig,
    },
  });
  const r = verifyBundle(trust, b, undefined, { publicKey: key.publicKey, artifact });
  assert.equal(r.mode, 'public-key');
  assert.deepEqual(r.checks, ['tlog', 'public-key', 'signature']);
  assert.equal(r.keyId, sha256(spkiDer(key.publicKey)).toString('hex'));
  rejects(
    () => verifyBundle(trust, b, undefined, { publicKey: generateP256().publicKey, artifact }),
    'SIGNATURE_MISMATCH',
    /does not verify/,
  );
  rejects(() => verifyBundle(trust, b, policy, { ...NO_CT, artifact }), 'VERIFICATION_FAILED', /public key/);
  rejects(
    () => verifyBundle(trust, bundle, undefined, { publicKey: key.publicKey, artifact }),
    'VERIFICATION_FAILED',
  );
});

test('cosign image signatures: verified layers, claims, and per-layer reasons', () => {
  const digest = 'sha256:' + 'ab'.repeat(32);
  const payload = Buffer.from(
    `{"critical":{"identity":{"docker-reference":"127.0.0.1:5000/org/rs-cart"},"image":{"docker-manifest-digest":"${digest}"},"type":"cosign container image signature"},"optional":null}`,
  );
  const sig = signData(leaf.privateKey, payload);
  const entry = logEntry(leafPem, sig, sha256(payload).toString('hex'));
  delete entry.inclusionProof;
  const layer = {
    payload,
    annotations: {
      'dev.cosignproject.cosign/signature': sig.toString('base64'),
      'dev.sigstore.cosign/certificate': leafPem,
      'dev.sigstore.cosign/chain': toPem('CERTIFICATE', inter.der) + toPem('CERTIFICATE', root.der),
      'dev.sigstore.cosign/bundle': cosignRekorBundleAnnotation(entry),
    },
  };
  const ok = verifyCosignImage(trust, digest, [layer], policy, NO_CT);
  assert.equal(ok.length, 1);
  assert.equal(ok[0]!.result.identity?.subjectAlternativeNames[0], WORKFLOW);
  assert.deepEqual((ok[0]!.payload as { critical: { image: unknown } }).critical.image, {
    'docker-manifest-digest': digest,
  });
  rejects(
    () => verifyCosignImage(trust, 'sha256:' + 'cd'.repeat(32), [layer], policy, NO_CT),
    'DIGEST_MISMATCH',
    /claims/,
  );
  rejects(() => verifyCosignImage(trust, digest, [], policy, NO_CT), 'NO_SIGNATURES');
  rejects(() => verifyCosignImage(trust, digest, [layer], undefined, NO_CT), 'POLICY_REQUIRED');
  const otherWorkflow: VerificationPolicy = {
    identities: [
      { subjectRegExp: '^https://github.com/org/repo/.github/workflows/other.yml@.*', issuer: ISSUER },
    ],
  };
  rejects(() => verifyCosignImage(trust, digest, [layer], otherWorkflow, NO_CT), 'IDENTITY_MISMATCH');
  const tamperedSig = Buffer.from(sig);
  tamperedSig[10]! ^= 1;
  const bad = {
    ...layer,
    annotations: {
      ...layer.annotations,
      'dev.cosignproject.cosign/signature': tamperedSig.toString('base64'),
    },
  };
  rejects(
    () => verifyCosignImage(trust, digest, [bad], policy, NO_CT),
    'SIGNATURE_MISMATCH',
    /does not verify/,
  );
  const badBundle = {
    ...layer,
    annotations: {
      ...layer.annotations,
      'dev.sigstore.cosign/bundle': layer.annotations['dev.sigstore.cosign/bundle'].replace(
        '"logIndex":0',
        '"logIndex":1',
      ),
    },
  };
  rejects(() => verifyCosignImage(trust, digest, [badBundle], policy, NO_CT), 'TLOG_FAILED', /SET/);
  const mixed = checkCosignSignatures(trust, digest, [bad, layer], policy, NO_CT);
  assert.deepEqual(
    mixed.verified.map((v) => v.index),
    [1],
  );
  assert.equal(mixed.failures[0]!.index, 0);
  assert.equal(mixed.failures[0]!.code, 'SIGNATURE_MISMATCH');
  rejects(
    () => verifyCosignImage(trust, digest, [bad, badBundle], policy, NO_CT),
    'VERIFICATION_FAILED',
    /signature 0: .*; signature 1: /,
  );
});
