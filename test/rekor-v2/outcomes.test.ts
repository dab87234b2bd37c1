import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { packOutcomes, unpackOutcomes, type PackedOutcomes } from '../../src/rekor-v2/outcomes.js';

test('worker outcomes cross a thread boundary packed and come back in order, refusals included', () => {
  const results = [
    { kind: 'hashedrekord' as const, body: Buffer.from('{"a":1}') },
    { code: 'INVALID_SIGNATURE', message: 'the signature does not verify' },
    { kind: 'dsse' as const, body: Buffer.from('{"dsse":true}') },
    { kind: 'hashedrekord' as const, body: Buffer.alloc(0) },
    { code: 'INVALID_JSON', message: 'request body is not valid JSON' },
  ];
  const { port1, port2 } = new MessageChannel();
  const { packed, transfer } = packOutcomes(results);
  port1.postMessage(packed, transfer);
  assert.equal(packed.bodies.bytes.byteLength, 0, 'the bodies were transferred, not copied');
  const got = unpackOutcomes(receiveMessageOnPort(port2)!.message as PackedOutcomes);
  port1.close();
  assert.deepEqual(got, [
    { ok: true, kind: 'hashedrekord', body: Buffer.from('{"a":1}') },
    { ok: false, code: 'INVALID_SIGNATURE', message: 'the signature does not verify' },
    { ok: true, kind: 'dsse', body: Buffer.from('{"dsse":true}') },
    { ok: true, kind: 'hashedrekord', body: Buffer.alloc(0) },
    { ok: false, code: 'INVALID_JSON', message: 'request body is not valid JSON' },
  ]);
});
