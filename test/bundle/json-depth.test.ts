// Deeply nested JSON is refused before JSON.parse, whose time grows superlinearly with depth
// (a 10 MB `[[[[…` bundle took some 20 s to be refused as "mediaType must be a string").
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { MAX_JSON_DEPTH, checkJsonDepth, parseBundle, parseTrustedRoot } from '../../src/bundle/index.js';
import { isSigilError } from '../../src/errors/index.js';
import { createTrustMaterial, verifyBundle } from '../../src/verify/index.js';
import { requireSharedFile } from '../helpers/env.js';
import { conformanceCases } from '../conformance/cases.js';

const deep = (n: number): string => `{"mediaType":${'['.repeat(n)}${']'.repeat(n)}}`;

test('bundles and trusted roots nesting deeper than the bound are refused as such', () => {
  const tooDeep = (e: unknown) =>
    isSigilError(e, 'INVALID_JSON') && /nests deeper than 128 levels/.test(e.message);
  assert.throws(() => parseBundle(deep(200_000)), tooDeep);
  assert.throws(() => parseBundle(Buffer.from(deep(200_000))), tooDeep);
  assert.throws(() => parseTrustedRoot(deep(200_000)), tooDeep);
  // A small text is parsed as before: its field is what is wrong.
  assert.throws(
    () => parseBundle(deep(200)),
    (e: unknown) => isSigilError(e, 'INVALID_BUNDLE') && /mediaType/.test(e.message),
  );
});

test('the depth scan skips brackets inside strings and counts closing ones', () => {
  const pad = 'x'.repeat(70 * 1024);
  const inString = JSON.stringify({ a: `${'['.repeat(1000)}\\"${pad}`, b: [[[1]]] });
  assert.doesNotThrow(() => checkJsonDepth(inString, 'INVALID_JSON', 'doc'));
  const wide = `[${`${'['.repeat(MAX_JSON_DEPTH - 1)}${']'.repeat(MAX_JSON_DEPTH - 1)},`.repeat(40)}"${pad}"]`;
  assert.doesNotThrow(() => checkJsonDepth(wide, 'INVALID_JSON', 'doc'));
  const one = `[${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}"${pad}"]`;
  assert.throws(
    () => checkJsonDepth(one, 'INVALID_JSON', 'doc'),
    (e: unknown) => isSigilError(e, 'INVALID_JSON'),
  );
});

test('an in-toto statement nesting too deep is refused before it is parsed', (t) => {
  const c = conformanceCases().find((x) => x.name === 'rekor2-dsse-happy-path');
  if (!requireSharedFile(t, c?.bundle ?? 'rekor2-dsse-happy-path') || !c) return;
  const bundle = JSON.parse(readFileSync(c.bundle, 'utf8'));
  bundle.dsseEnvelope.payload = Buffer.from(deep(200_000)).toString('base64');
  assert.throws(
    () =>
      verifyBundle(
        createTrustMaterial(readFileSync(c.trustedRoot, 'utf8')),
        bundle,
        { skipIdentityUnsafe: true },
        {
          artifact: readFileSync(c.artifact),
        },
      ),
    (e: unknown) => isSigilError(e, 'DIGEST_MISMATCH') && /in-toto statement nests deeper/.test(e.message),
  );
});
