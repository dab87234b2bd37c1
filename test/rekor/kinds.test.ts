import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { canonicalJson, generateP256, sha256Hex, spkiDer, toPem } from '../../src/crypto/index.js';
import { isSigilError } from '../../src/errors/index.js';
import { canonicalizeProposedEntry, VerifierCache } from '../../src/rekor/kinds/index.js';
import { entryId, parseEntryId } from '../../src/rekor/entry-id.js';
import { setPayload } from '../../src/rekor/set.js';
import { hashedRekord, selfSignedCert } from './helpers.js';
import { PUBLIC_SIGSTORE_DIR, requireSharedFile } from '../helpers/env.js';

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');
const keys = new VerifierCache();

function rejects(entry: unknown, code: string): void {
  assert.throws(
    () => canonicalizeProposedEntry(entry, keys),
    (e: unknown) => isSigilError(e) && e.code === code,
    `expected ${code}`,
  );
}

test('hashedrekord: canonical body is the JCS of the four fields with a Go-style PEM key', () => {
  const s = hashedRekord(Buffer.from('hello'));
  // Submit the key PEM with CRLF line ends and extra blank lines: the log must re-encode it.
  const messyPem = toPem('PUBLIC KEY', spkiDer(s.publicKey)).replace(/\n/g, '\r\n') + '\r\n';
  const spec = s.entry.spec as { signature: { publicKey: { content: string } } };
  spec.signature.publicKey.content = b64(messyPem);
  const c = canonicalizeProposedEntry(s.entry, keys);
  const canonicalPem = toPem('PUBLIC KEY', spkiDer(s.publicKey));
  const expected = canonicalJson({
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: s.digest.toString('hex') } },
      signature: { content: b64(s.signature), publicKey: { content: b64(canonicalPem) } },
    },
  });
  assert.equal(c.body.toString(), expected.toString());
  assert.deepEqual(c.indexKeys, [sha256Hex(Buffer.from(canonicalPem)), `sha256:${s.digest.toString('hex')}`]);
});

test('hashedrekord: sha384/sha512 digests, uppercase hex is normalised, lengths are enforced per algorithm', () => {
  const k = generateP256();
  for (const alg of ['sha384', 'sha512'] as const) {
    const data = Buffer.from(`data-${alg}`);
    const digest = createHash(alg).update(data).digest();
    const entry = hashedRekord(data, k).entry as {
      spec: { data: { hash: { algorithm: string; value: string } } };
    };
    entry.spec.data.hash = { algorithm: alg, value: digest.toString('hex').toUpperCase() };
    // The signature was made over sha256(data), so this must fail verification, not length checks.
    rejects(entry, 'INVALID_SIGNATURE');
    entry.spec.data.hash.value = digest.toString('hex').slice(2);
    rejects(entry, 'INVALID_ENTRY');
  }
  const s = hashedRekord(Buffer.from('x'), k);
  const spec = (s.entry.spec as { data: { hash: { value: string } } }).data.hash;
  spec.value = spec.value.toUpperCase();
  const c = canonicalizeProposedEntry(s.entry, keys);
  assert.ok(c.body.toString().includes(s.digest.toString('hex')));
});

test('hashedrekord: RSA PKCS#1 v1.5 over the digest verifies; weak RSA is refused', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const s = hashedRekord(Buffer.from('rsa data'), rsa);
  assert.equal(canonicalizeProposedEntry(s.entry, keys).kind, 'hashedrekord');
  const tampered = hashedRekord(Buffer.from('rsa data'), rsa);
  (tampered.entry.spec as { data: { hash: { value: string } } }).data.hash.value = 'ab'.repeat(32);
  rejects(tampered.entry, 'INVALID_SIGNATURE');
  const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
  rejects(hashedRekord(Buffer.from('weak'), weak).entry, 'WEAK_KEY');
  const ed = generateKeyPairSync('ed25519');
  const edEntry = hashedRekord(Buffer.from('ed'), generateP256()).entry as {
    spec: { signature: { publicKey: { content: string } } };
  };
  edEntry.spec.signature.publicKey.content = b64(toPem('PUBLIC KEY', spkiDer(ed.publicKey)));
  rejects(edEntry, 'INVALID_KEY');
  const p192 = generateKeyPairSync('ec', { namedCurve: 'prime192v1' });
  const weakEc = hashedRekord(Buffer.from('p192'), generateP256()).entry as {
    spec: { signature: { publicKey: { content: string } } };
  };
  weakEc.spec.signature.publicKey.content = b64(toPem('PUBLIC KEY', spkiDer(p192.publicKey)));
  rejects(weakEc, 'WEAK_KEY');
});

test('hashedrekord: a certificate contributes its lowercased SANs to the index keys', async () => {
  const cert = await selfSignedCert([
    { type: 'email', value: 'Alice@Example.com' },
    { type: 'url', value: 'https://github.com/Org/Repo/.github/workflows/ci.yml@refs/heads/main' },
  ]);
  const s = hashedRekord(Buffer.from('cert data'), cert, cert.pem);
  const c = canonicalizeProposedEntry(s.entry, keys);
  assert.ok(c.indexKeys.includes('alice@example.com'));
  assert.ok(c.indexKeys.includes('https://github.com/org/repo/.github/workflows/ci.yml@refs/heads/main'));
  const der = Buffer.from(cert.pem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
  assert.ok(c.body.toString().includes(b64(toPem('CERTIFICATE', der))));
});

test('hashedrekord: every malformed field is INVALID_ENTRY / INVALID_INPUT / INVALID_KEY, never a crash', () => {
  const good = (): { apiVersion: string; kind: string; spec: Record<string, unknown> } =>
    structuredClone(hashedRekord(Buffer.from('m')).entry) as never;
  const cases: [string, (e: ReturnType<typeof good>) => void, string][] = [
    ['spec missing', (e) => delete (e as { spec?: unknown }).spec, 'INVALID_ENTRY'],
    ['spec is a string', (e) => ((e as { spec: unknown }).spec = 'x'), 'INVALID_ENTRY'],
    ['signature missing', (e) => delete e.spec.signature, 'INVALID_ENTRY'],
    ['data is an array', (e) => (e.spec.data = []), 'INVALID_ENTRY'],
    [
      'hash value number',
      (e) => ((e.spec.data as { hash: { value: unknown } }).hash.value = 5),
      'INVALID_ENTRY',
    ],
    [
      'unknown algorithm',
      (e) => ((e.spec.data as { hash: { algorithm: unknown } }).hash.algorithm = 'md5'),
      'INVALID_ENTRY',
    ],
    [
      'non-hex digest',
      (e) => ((e.spec.data as { hash: { value: unknown } }).hash.value = 'zz'.repeat(32)),
      'INVALID_ENTRY',
    ],
    [
      'signature bad base64',
      (e) => ((e.spec.signature as { content: unknown }).content = '!!!'),
      'INVALID_INPUT',
    ],
    [
      'signature huge',
      (e) => ((e.spec.signature as { content: unknown }).content = 'A'.repeat(10_000)),
      'INVALID_ENTRY',
    ],
    [
      'key bad base64',
      (e) => ((e.spec.signature as { publicKey: { content: unknown } }).publicKey.content = 'a b'),
      'INVALID_INPUT',
    ],
    [
      'key not PEM',
      (e) => ((e.spec.signature as { publicKey: { content: unknown } }).publicKey.content = b64('hello')),
      'INVALID_KEY',
    ],
    [
      'key PEM garbage',
      (e) =>
        ((e.spec.signature as { publicKey: { content: unknown } }).publicKey.content = b64(
          '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n',
        )),
      'INVALID_KEY',
    ],
    [
      'certificate garbage',
      (e) =>
        ((e.spec.signature as { publicKey: { content: unknown } }).publicKey.content = b64(
          '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
        )),
      'INVALID_CERTIFICATE',
    ],
    ['wrong kind', (e) => (e.kind = 'rekord'), 'INVALID_ENTRY'],
    ['wrong version', (e) => (e.apiVersion = '0.0.2'), 'INVALID_ENTRY'],
  ];
  for (const [name, mutate, code] of cases) {
    const e = good();
    mutate(e);
    assert.throws(
      () => canonicalizeProposedEntry(e, keys),
      (err: unknown) => isSigilError(err) && err.code === code,
      name,
    );
  }
  rejects(null, 'INVALID_ENTRY');
  rejects([1, 2], 'INVALID_ENTRY');
});

test('dsse: the canonical body of a real public-good entry is reproduced byte for byte', (t) => {
  if (!requireSharedFile(t, `${PUBLIC_SIGSTORE_DIR}bundleV03-dsse.sigstore`)) return;
  const bundle = JSON.parse(readFileSync(`${PUBLIC_SIGSTORE_DIR}bundleV03-dsse.sigstore`, 'utf8')) as {
    dsseEnvelope: { payload: string; payloadType: string; signatures: { sig: string; keyid?: string }[] };
    verificationMaterial: { certificate: { rawBytes: string }; tlogEntries: { canonicalizedBody: string }[] };
  };
  const env = bundle.dsseEnvelope;
  // sigstore-js submits the envelope as JSON with this member order (keyid "" included).
  const envelope = JSON.stringify({
    payload: env.payload,
    payloadType: env.payloadType,
    signatures: env.signatures.map((s) => ({ sig: s.sig, keyid: s.keyid ?? '' })),
  });
  const certPem = toPem(
    'CERTIFICATE',
    Buffer.from(bundle.verificationMaterial.certificate.rawBytes, 'base64'),
  );
  const c = canonicalizeProposedEntry(
    { apiVersion: '0.0.1', kind: 'dsse', spec: { proposedContent: { envelope, verifiers: [b64(certPem)] } } },
    keys,
  );
  assert.equal(c.body.toString('base64'), bundle.verificationMaterial.tlogEntries[0]!.canonicalizedBody);
  assert.ok(c.indexKeys.includes('brian@dehamer.com'));
  assert.ok(
    c.indexKeys.some((k) => k.startsWith('sha512:')),
    'in-toto subject digest indexed',
  );
});

test('dsse: a signature no verifier matches, or a verifier matching nothing, is refused', () => {
  const a = generateP256();
  const b = generateP256();
  const payload = Buffer.from('{"hello":"world"}');
  const type = 'application/json';
  const pae = Buffer.concat([Buffer.from(`DSSEv1 ${type.length} ${type} ${payload.length} `), payload]);
  const sigA = sign('sha256', pae, a.privateKey).toString('base64');
  const envelope = JSON.stringify({ payload: b64(payload), payloadType: type, signatures: [{ sig: sigA }] });
  const pemA = b64(toPem('PUBLIC KEY', spkiDer(a.publicKey)));
  const pemB = b64(toPem('PUBLIC KEY', spkiDer(b.publicKey)));
  const ok = canonicalizeProposedEntry(
    { apiVersion: '0.0.1', kind: 'dsse', spec: { proposedContent: { envelope, verifiers: [pemA] } } },
    keys,
  );
  assert.ok(ok.body.toString().includes(`"signatures":[{"signature":"${sigA}","verifier":"${pemA}"}]`));
  rejects(
    { apiVersion: '0.0.1', kind: 'dsse', spec: { proposedContent: { envelope, verifiers: [pemB] } } },
    'INVALID_SIGNATURE',
  );
  rejects(
    { apiVersion: '0.0.1', kind: 'dsse', spec: { proposedContent: { envelope, verifiers: [pemA, pemB] } } },
    'INVALID_SIGNATURE',
  );
  rejects(
    {
      apiVersion: '0.0.1',
      kind: 'dsse',
      spec: { proposedContent: { envelope: '{"payload":', verifiers: [pemA] } },
    },
    'INVALID_JSON',
  );
  rejects(
    { apiVersion: '0.0.1', kind: 'dsse', spec: { proposedContent: { envelope, verifiers: [] } } },
    'INVALID_ENTRY',
  );
  rejects(
    {
      apiVersion: '0.0.1',
      kind: 'dsse',
      spec: {
        proposedContent: { envelope, verifiers: [pemA] },
        payloadHash: { algorithm: 'sha256', value: 'aa' },
      },
    },
    'INVALID_ENTRY',
  );
});

test('SET payload is exactly the RFC 8785 JSON of the four members', () => {
  const f = { body: 'eyJhIjoxfQ==', integratedTime: 1720811189, logID: 'c0d23d6a', logIndex: 123 };
  assert.equal(setPayload(f).toString(), canonicalJson(f).toString());
  assert.throws(() => setPayload({ ...f, body: '"' }));
});

test('entry IDs: 16 hex tree ID + 64 hex leaf hash; 64 or 80 hex accepted, anything else INVALID_INPUT', () => {
  const leaf = Buffer.alloc(32, 0xab);
  const id = entryId('1193050959916656506', leaf);
  assert.equal(id, '108e9186e8c5677a' + 'ab'.repeat(32));
  assert.deepEqual(parseEntryId(id.toUpperCase()), { treeIdHex: '108e9186e8c5677a', leafHash: leaf });
  assert.deepEqual(parseEntryId('ab'.repeat(32)), { leafHash: leaf });
  for (const bad of ['', 'ab', 'ab'.repeat(33), 'zz'.repeat(40), 5, null]) {
    assert.throws(
      () => parseEntryId(bad),
      (e: unknown) => isSigilError(e, 'INVALID_INPUT'),
    );
  }
});
