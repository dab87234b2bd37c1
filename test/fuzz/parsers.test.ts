import assert from 'node:assert/strict';
import { policyYaml } from '../../src/demo/policy.js';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { SignJWT, base64url } from 'jose';
import {
  parseCheckpoint,
  parseSignedNote,
  signNote,
  verifyNote,
  ecdsaKeyHint,
  formatCheckpoint,
} from '../../src/bundle/signed-note.js';
import { parseSigningCertRequest } from '../../src/ca/request.js';
import {
  fromBase64,
  fromHex,
  parsePublicKeyOrCertificate,
  pemBlocks,
  privateKeyFromPem,
  publicKeyFromDer,
} from '../../src/crypto/index.js';
import { parsePolicyText } from '../../src/admission/policy/index.js';
import { parseAdmissionReview } from '../../src/admission/review.js';
import { issuerFrom } from '../../src/oidc/config.js';
import { createOidcServer } from '../../src/oidc/dev-issuer.js';
import { createTokenVerifier } from '../../src/oidc/verify.js';
import { canonicalizeProposedEntry, VerifierCache } from '../../src/rekor/kinds/index.js';
import { parseSctList } from '../../src/x509/sct.js';
import { compileLinearRegExp } from '../../src/verify/linear-regex.js';
import { parseTilePath, tilePath } from '../../src/log/tiles/paths.js';
import { decodeEntryBundle } from '../../src/log/tiles/bundle.js';
import {
  certificateAndCsr,
  mutatedBytes,
  mutatedJson,
  mutatedText,
  onlySigilErrors,
  RUNS,
} from './helpers.js';
import { entryMaker, tempDir } from '../reliability/helpers.js';

test('JWTs: random, mutated and hand-built tokens give only coded errors, never hang', async (t) => {
  const oidc = await createOidcServer({ dataDir: tempDir(t), port: 0, logLevel: 'silent' });
  t.after(() => oidc.close());
  const verifier = createTokenVerifier({
    issuers: [issuerFrom({ issuerUrl: oidc.issuer, type: 'github-workflow' })],
    fetchTimeoutMs: 1000,
  });
  const good = await oidc.mint();
  await verifier.verify(good); // the real thing verifies (and warms the key cache)
  const verify = (tok: string) => onlySigilErrors(() => verifier.verify(tok), 'token verifier');
  await fc.assert(fc.asyncProperty(fc.string({ maxLength: 200 }), verify), { numRuns: RUNS(200) });
  await fc.assert(fc.asyncProperty(mutatedText(good), verify), { numRuns: RUNS(200) });
  const seg = (v: unknown): string => base64url.encode(JSON.stringify(v) ?? 'null');
  const header = fc.record(
    {
      alg: fc.constantFrom('RS256', 'ES256', 'EdDSA', 'none', 'HS256', 'PS512', '', 'rs256'),
      kid: fc.oneof(
        fc.string({ maxLength: 20 }),
        fc.constant(JSON.parse(Buffer.from(good.split('.')[0]!, 'base64url').toString()).kid as string),
      ),
      typ: fc.constantFrom('JWT', 'at+jwt', 42),
      crit: fc.array(fc.string({ maxLength: 8 }), { maxLength: 2 }),
      b64: fc.boolean(),
    },
    { requiredKeys: ['alg'] },
  );
  const claims = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }),
    fc.record({
      iss: fc.constantFrom(oidc.issuer, `${oidc.issuer}/`, 'https://token.actions.githubusercontent.com', ''),
      sub: fc.oneof(fc.string({ maxLength: 30 }), fc.integer()),
      aud: fc.oneof(fc.constant('sigstore'), fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 })),
      exp: fc.oneof(fc.integer(), fc.double(), fc.string()),
      iat: fc.oneof(fc.integer(), fc.constant(1e300)),
      nbf: fc.integer(),
    }),
  );
  await fc.assert(
    fc.asyncProperty(header, claims, fc.uint8Array({ maxLength: 300 }), (h, c, sig) =>
      verify(`${seg(h)}.${seg(c)}.${base64url.encode(sig)}`),
    ),
    { numRuns: RUNS(300) },
  );
  // Well-formed tokens signed by a key the issuer never published.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  await fc.assert(
    fc.asyncProperty(fc.jsonValue({ maxDepth: 2 }), async (extra) => {
      const tok = await new SignJWT({ iss: oidc.issuer, sub: 'x', aud: 'sigstore', extra })
        .setProtectedHeader({ alg: 'RS256', kid: 'foreign' })
        .setExpirationTime('5m')
        .sign(privateKey);
      await assert.rejects(
        verifier.verify(tok),
        (e: unknown) => (e as { code?: string }).code === 'INVALID_TOKEN',
      );
    }),
    { numRuns: RUNS(20) },
  );
});

test('PEM and DER keys and certificates: random and mutated input gives only coded errors', async () => {
  const { certPem, certDer, spkiPem } = await certificateAndCsr();
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const spkiDerBytes = pemBlocks(spkiPem)[0]!.der;
  const parsers: ((v: string | Buffer) => unknown)[] = [
    (v) => pemBlocks(String(v)),
    (v) => parsePublicKeyOrCertificate(v),
    (v) => privateKeyFromPem(String(v)),
    (v) => publicKeyFromDer(Buffer.from(v)),
    (v) => fromBase64(String(v), 'field'),
    (v) => fromHex(String(v), 'field'),
  ];
  const inputs = fc.oneof(
    fc.string({ maxLength: 300 }),
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    mutatedText(certPem),
    mutatedText(spkiPem),
    mutatedText(keyPem),
    mutatedBytes(certDer),
    mutatedBytes(spkiDerBytes),
    fc.constantFrom(
      `${spkiPem}${spkiPem}`,
      '-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n',
      '-----BEGIN CERTIFICATE-----\n' + 'A'.repeat(100_000) + '\n-----END CERTIFICATE-----\n',
    ),
  );
  for (const parse of parsers) {
    await fc.assert(
      fc.asyncProperty(inputs, (v) => onlySigilErrors(() => parse(v))),
      { numRuns: RUNS(300) },
    );
  }
});

test('Fulcio signingCert requests and CSRs: mutated requests give only coded errors', async () => {
  const { csrPem, spkiPem } = await certificateAndCsr();
  const csrRequest = {
    credentials: { oidcIdentityToken: 'x.y.z' },
    certificateSigningRequest: Buffer.from(csrPem).toString('base64'),
  };
  const keyRequest = {
    credentials: { oidcIdentityToken: 'x.y.z' },
    publicKeyRequest: { publicKey: { algorithm: 'ECDSA', content: spkiPem }, proofOfPossession: 'MEUCIQ==' },
  };
  const csrBytes = Buffer.from(csrPem);
  const body = fc.oneof(
    mutatedJson(csrRequest),
    mutatedJson(keyRequest),
    mutatedText(csrPem).map((pem) => ({
      ...csrRequest,
      certificateSigningRequest: Buffer.from(pem).toString('base64'),
    })),
    mutatedBytes(pemBlocks(csrPem)[0]!.der).map((der) => ({
      ...csrRequest,
      certificateSigningRequest: der.toString('base64'),
    })),
    mutatedBytes(csrBytes).map((b) => ({ ...csrRequest, certificateSigningRequest: b.toString('base64') })),
    fc.jsonValue({ maxDepth: 4 }),
  );
  await fc.assert(
    fc.asyncProperty(body, fc.option(fc.string({ maxLength: 40 })), (b, auth) =>
      onlySigilErrors(() => parseSigningCertRequest(b, auth ?? undefined), 'signingCert request'),
    ),
    { numRuns: RUNS(400) },
  );
});

test('hashedrekord and dsse proposed entries: mutated entries give only coded errors', async () => {
  const hr = JSON.parse(entryMaker()()) as unknown;
  const cache = new VerifierCache();
  const dsse = {
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: {
      proposedContent: {
        envelope: JSON.stringify({
          payloadType: 'application/vnd.in-toto+json',
          payload: 'e30=',
          signatures: [{ sig: 'MEUCIQ==' }],
        }),
        verifiers: [Buffer.from((await certificateAndCsr()).spkiPem).toString('base64')],
      },
    },
  };
  await fc.assert(
    fc.asyncProperty(fc.oneof(mutatedJson(hr), mutatedJson(dsse), fc.jsonValue({ maxDepth: 4 })), (v) =>
      onlySigilErrors(() => canonicalizeProposedEntry(v, cache), 'entry canonicalizer'),
    ),
    { numRuns: RUNS(400) },
  );
});

test('checkpoints and signed notes: random and mutated notes give only coded errors; a mutated note never verifies', async () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const hint = ecdsaKeyHint(publicKey);
  const text = formatCheckpoint({
    origin: 'log.example - 42',
    size: 7,
    rootHash: Buffer.alloc(32, 9),
    extensions: [],
  });
  const note = signNote(text, 'log.example', privateKey, hint);
  assert.ok(verifyNote(parseSignedNote(note), 'log.example', hint, publicKey));
  await fc.assert(
    fc.asyncProperty(fc.oneof(fc.string({ maxLength: 300 }), mutatedText(note)), async (s) => {
      await onlySigilErrors(() => parseCheckpoint(s), 'checkpoint');
      await onlySigilErrors(() => {
        const n = parseSignedNote(s);
        parseCheckpoint(n.text);
        if (s !== note && n.text !== text)
          assert.equal(verifyNote(n, 'log.example', hint, publicKey), false, 'mutated note verified');
      }, 'signed note');
    }),
    { numRuns: RUNS(500) },
  );
});

test('SCT lists: random and mutated bytes give only coded errors', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), (b) =>
      onlySigilErrors(() => parseSctList(Buffer.from(b))),
    ),
    { numRuns: RUNS(500) },
  );
});

const POLICY = policyYaml({
  images: ['registry.example/org/*'],
  subjectRegExp: '^https://github.com/org/.*$',
  issuer: 'https://token.actions.githubusercontent.com',
});

test('policies: random and mutated YAML give only coded errors (INVALID_POLICY), never hang', async () => {
  const ctx = { hasTrustedRoot: true };
  assert.equal(parsePolicyText(POLICY, 'p.yaml', ctx).length, 1);
  const regexes = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.constantFrom('(a+)+$', '(a|a)*b', '([a-z]+)*@', '(.*a){12}', '(?=x)', '\\1'),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.string({ maxLength: 300 }),
        mutatedText(POLICY),
        regexes.map((r) => POLICY.replace('^https://github.com/org/.*$', r.replace(/["\\]/g, '\\$&'))),
        fc.constantFrom(
          'a: &a [*a]',
          'x: &a ["x","x"]\ny: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nz: [*b,*b,*b,*b,*b,*b,*b,*b]',
          '{'.repeat(5000),
        ),
      ),
      (y) => onlySigilErrors(() => parsePolicyText(y, 'p.yaml', ctx), 'policy loader'),
    ),
    { numRuns: RUNS(400) },
  );
});

test('identity regexps run in linear time: a catastrophic pattern over a hostile subject settles at once', () => {
  // On the backtracking engine this pattern takes ~18 s for 27 characters and doubles per character.
  const hostile = `https://github.com/${'a'.repeat(5000)}!`;
  for (const source of ['^https://github.com/(a+)+$', '^https://github.com/([a-z]+)*$', '^(.*a){20}$']) {
    let re: RegExp;
    try {
      re = compileLinearRegExp(source);
    } catch {
      continue; // refused at load time is fine too
    }
    const started = performance.now();
    assert.equal(re.test(hostile), false);
    assert.ok(
      performance.now() - started < 1000,
      `${source} matched in ${(performance.now() - started).toFixed(0)} ms`,
    );
  }
  // And through the policy loader, which compiles the same way.
  const policies = parsePolicyText(
    POLICY.replace('^https://github.com/org/.*$', '^https://github.com/(a+)+$'),
    'p.yaml',
    { hasTrustedRoot: true },
  );
  const attestor = JSON.stringify(policies[0], (_k, v: unknown) => (v instanceof RegExp ? v.flags : v));
  assert.match(attestor, /"l"|"u"/, 'compiled with an explicit engine flag');
});

test('AdmissionReviews: random and mutated reviews give only coded errors', async () => {
  const reviewDoc = {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'u-1',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'default',
      name: 'p',
      operation: 'CREATE',
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'p' },
        spec: { containers: [{ name: 'c', image: 'nginx' }] },
      },
    },
  };
  parseAdmissionReview(reviewDoc);
  await fc.assert(
    fc.asyncProperty(fc.oneof(mutatedJson(reviewDoc), fc.jsonValue({ maxDepth: 5 })), (v) =>
      onlySigilErrors(() => parseAdmissionReview(v), 'review parser'),
    ),
    { numRuns: RUNS(500) },
  );
});

test('tiles: random and mutated tile paths and entry bundles give only coded errors; valid paths round-trip', async () => {
  const valid = fc
    .record({
      level: fc.oneof(fc.constant('entries' as const), fc.integer({ min: 0, max: 6 })),
      index: fc.nat(2 ** 40),
      width: fc.integer({ min: 1, max: 256 }),
    })
    .map((t) => tilePath(t));
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.string({ maxLength: 120 }),
        valid,
        valid.chain((p) => mutatedText(p)),
      ),
      (p) =>
        onlySigilErrors(() => {
          const t = parseTilePath(p);
          assert.equal(tilePath(t), p, 'a path that parses is canonical');
        }, 'tile path'),
    ),
    { numRuns: RUNS(1000) },
  );
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), (b) =>
      onlySigilErrors(() => decodeEntryBundle(b), 'entry bundle'),
    ),
    { numRuns: RUNS(500) },
  );
});
