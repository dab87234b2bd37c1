import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateP256 } from '../../src/crypto/index.js';
import {
  ecdsaKeyHint,
  formatCheckpoint,
  parseCheckpoint,
  parseSignedNote,
  signNote,
  verifyNote,
} from '../../src/bundle/signed-note.js';
import { isSigilError } from '../../src/errors/index.js';

test('a checkpoint signed as a note round-trips and verifies; tampering fails', () => {
  const { privateKey, publicKey } = generateP256();
  const hint = ecdsaKeyHint(publicKey);
  const body = formatCheckpoint({
    origin: 'localhost - 42',
    size: 7,
    rootHash: Buffer.alloc(32, 9),
    extensions: [],
  });
  const envelope = signNote(body, 'localhost', privateKey, hint);
  assert.match(envelope, /^localhost - 42\n7\n[A-Za-z0-9+/]{43}=\n\n\u2014 localhost [A-Za-z0-9+/=]+\n$/);
  const note = parseSignedNote(envelope);
  assert.equal(note.text, body);
  assert.deepEqual(parseCheckpoint(note.text), {
    origin: 'localhost - 42',
    size: 7,
    rootHash: Buffer.alloc(32, 9),
    extensions: [],
  });
  assert.equal(verifyNote(note, 'localhost', hint, publicKey), true);
  assert.equal(verifyNote(note, 'otherhost', hint, publicKey), false);
  const tampered = parseSignedNote(envelope.replace('\n7\n', '\n8\n'));
  assert.equal(verifyNote(tampered, 'localhost', hint, publicKey), false);
  const other = generateP256().publicKey;
  assert.equal(verifyNote(note, 'localhost', hint, other), false);
});

test('malformed notes and checkpoints are coded errors', () => {
  for (const bad of ['', 'a\nb\n', 'x\n\n— name\n', 'x\n\n— name AAAA\n', 'x\n\nno dash AAAAAAAA\n']) {
    assert.throws(
      () => parseSignedNote(bad),
      (e) => isSigilError(e, 'INVALID_CHECKPOINT'),
      JSON.stringify(bad),
    );
  }
  for (const bad of [
    'o\n01\nAAAA\n',
    'o\n1\nAAAA\n',
    'o\n-1\n' + Buffer.alloc(32).toString('base64') + '\n',
    'o\n1\n',
  ]) {
    assert.throws(
      () => parseCheckpoint(bad),
      (e) => isSigilError(e, 'INVALID_CHECKPOINT'),
      JSON.stringify(bad),
    );
  }
});
