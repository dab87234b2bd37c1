// Witness cosignatures (C2SP tlog-cosignature v1) on checkpoints, verified under a witness policy.
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { test } from 'node:test';
import { ownLog } from './own-log.js';
import { isSigilError } from '../../src/errors/index.js';
import { parseSignedNote, serializeSignedNote } from '../../src/bundle/index.js';
import { cosignatureKeyId, cosignedMessage, verifyCheckpoint, type Witness } from '../../src/verify/index.js';

const { trust, keys, checkpoint } = ownLog();

function witness(
  name: string,
): Witness & { privateKey: ReturnType<typeof generateKeyPairSync>['privateKey'] } {
  const k = generateKeyPairSync('ed25519');
  return { name, publicKey: k.publicKey, privateKey: k.privateKey };
}

function cosign(envelope: string, w: ReturnType<typeof witness>, time = 1_700_000_000n): string {
  const note = parseSignedNote(envelope);
  const ts = Buffer.alloc(8);
  ts.writeBigUInt64BE(time);
  const sig = sign(null, cosignedMessage(note.text, time), w.privateKey);
  return serializeSignedNote({
    text: note.text,
    signatures: [
      ...note.signatures,
      { name: w.name, keyHint: cosignatureKeyId(w), signature: Buffer.concat([ts, sig]) },
    ],
  });
}

test('witness cosignatures count towards a policy; unknown lines are ignored, bad ones refused', () => {
  const logged = checkpoint('log.example', 3);
  const [w1, w2, stranger] = [witness('w1.example'), witness('w2.example'), witness('w3.example')];
  const both = cosign(cosign(cosign(logged, w1), w2), stranger);
  const policy = (threshold: number) => ({ witnesses: [w1, w2], threshold });
  // No policy: cosignatures are ignored, as the conformance suite expects of unknown witnesses.
  assert.equal(verifyCheckpoint(both, keys, trust).size, 3);
  assert.equal(verifyCheckpoint(both, keys, trust, policy(2)).size, 3);
  const only1 = cosign(logged, w1);
  assert.equal(verifyCheckpoint(only1, keys, trust, policy(1)).size, 3);
  const short = (f: () => unknown, m: RegExp) =>
    assert.throws(f, (e: unknown) => isSigilError(e, 'CHECKPOINT_INVALID') && m.test(e.message));
  short(() => verifyCheckpoint(only1, keys, trust, policy(2)), /1 of the required 2 witness cosignatures/);
  short(() => verifyCheckpoint(logged, keys, trust, policy(1)), /0 of the required 1/);
  // A cosignature over another time than the one it carries does not verify.
  const lines = only1.split('\n');
  const last = lines.at(-2)!;
  const raw = Buffer.from(last.split(' ')[2]!, 'base64');
  raw.writeBigUInt64BE(1_700_000_001n, 4);
  lines[lines.length - 2] = `${last.split(' ').slice(0, 2).join(' ')} ${raw.toString('base64')}`;
  short(
    () => verifyCheckpoint(lines.join('\n'), keys, trust, policy(1)),
    /cosignature of w1.example does not verify/,
  );
});
