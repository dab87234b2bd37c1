import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { generateP256 } from '../../src/crypto/index.js';
import { isSigilError } from '../../src/errors/index.js';
import {
  DEFAULT_CA_URL,
  DEFAULT_LOG_URL,
  inTotoStatement,
  parseStackEnv,
  predicateOf,
  predicateTypeOf,
  proofSubject,
  stackDefaults,
} from '../../src/sign/index.js';

test('stack.env parsing and precedence: env over stack.env over defaults', (t) => {
  assert.deepEqual(
    parseStackEnv('# sigil up\nexport SIGIL_CA_URL="http://a:1"\nSIGIL_LOG_URL=http://b:2\n\nnot a line\n'),
    {
      SIGIL_CA_URL: 'http://a:1',
      SIGIL_LOG_URL: 'http://b:2',
    },
  );
  const dir = mkdtempSync(join(tmpdir(), 'sigil-stack-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.deepEqual(stackDefaults({}, dir), { dataDir: dir, caUrl: DEFAULT_CA_URL, logUrl: DEFAULT_LOG_URL });
  writeFileSync(join(dir, 'trusted_root.json'), '{}');
  assert.equal(stackDefaults({}, dir).trustedRoot, join(dir, 'trusted_root.json'));
  writeFileSync(
    join(dir, 'stack.env'),
    'SIGIL_CA_URL=http://127.0.0.1:15555\nSIGIL_LOG_URL=http://127.0.0.1:13000\nSIGIL_TRUSTED_ROOT=/x/root.json\n',
  );
  const d = stackDefaults({ SIGIL_LOG_URL: 'http://env:3000' }, dir);
  assert.equal(d.caUrl, 'http://127.0.0.1:15555');
  assert.equal(d.logUrl, 'http://env:3000');
  assert.equal(d.trustedRoot, '/x/root.json');
  assert.equal(
    stackDefaults({ SIGIL_DATA_DIR: dir }).caUrl,
    'http://127.0.0.1:15555',
    'SIGIL_DATA_DIR names the directory',
  );
});

test('predicate types and statements', () => {
  assert.equal(predicateTypeOf('slsaprovenance'), 'https://slsa.dev/provenance/v0.2');
  assert.equal(predicateTypeOf('https://example.com/p/v1'), 'https://example.com/p/v1');
  assert.throws(
    () => predicateTypeOf('not a uri'),
    (e: unknown) => isSigilError(e, 'INVALID_INPUT'),
  );
  assert.deepEqual(predicateOf('custom', Buffer.from('free text'), new Date('2024-01-02T03:04:05.678Z')), {
    Data: 'free text',
    Timestamp: '2024-01-02T03:04:05Z',
  });
  assert.throws(
    () => predicateOf('slsaprovenance', Buffer.from('[1]')),
    (e: unknown) => isSigilError(e, 'INVALID_INPUT'),
  );
  const s = JSON.parse(inTotoStatement('r/x', 'ab'.repeat(32), 'https://t', { a: 1 }).toString());
  assert.deepEqual(s, {
    _type: 'https://in-toto.io/Statement/v0.1',
    predicateType: 'https://t',
    subject: [{ name: 'r/x', digest: { sha256: 'ab'.repeat(32) } }],
    predicate: { a: 1 },
  });
});

test('the proof of possession signs the verified email, else the subject', async () => {
  const { privateKey } = generateP256();
  const jwt = (claims: Record<string, unknown>) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'ES256' }).sign(privateKey);
  assert.equal(
    proofSubject(await jwt({ sub: 'repo:org/repo:ref:refs/heads/main' })),
    'repo:org/repo:ref:refs/heads/main',
  );
  assert.equal(proofSubject(await jwt({ sub: 's', email: 'a@b.c', email_verified: true })), 'a@b.c');
  assert.throws(
    () => proofSubject('x.y.z'),
    (e: unknown) => isSigilError(e, 'INVALID_TOKEN'),
  );
  assert.throws(
    () => proofSubject(jwtSync({ sub: 's', email: 'a@b.c' })),
    (e: unknown) => isSigilError(e, 'INVALID_TOKEN'),
  );
});

function jwtSync(claims: Record<string, unknown>): string {
  const b = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b({ alg: 'none' })}.${b(claims)}.`;
}
