import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import type { AppendResult } from '../../src/log/index.js';
import { TransparencyLogEntryWriter, transparencyLogEntryJson } from '../../src/rekor-v2/entry.js';
import type { LoggedEntry } from '../../src/rekor-v2/request.js';

function result(index: number, size: number, proofLength: number, signed: string): AppendResult {
  return {
    entry: {
      index,
      leaf: Buffer.from(`{"kind":"x","n":${index}}`),
      leafHash: randomBytes(32),
      integratedTime: 7,
    },
    duplicate: false,
    treeHead: { size, rootHash: randomBytes(32), timestamp: 1, signed },
    inclusionProof: Array.from({ length: proofLength }, () => randomBytes(32)),
  };
}

test('the append answer is byte for byte the JSON.stringify of its protojson TransparencyLogEntry', () => {
  const logId = randomBytes(32);
  const writer = new TransparencyLogEntryWriter(logId);
  // A non-ASCII origin and the signature line's em dash: the checkpoint is the only non-ASCII member.
  const signedA = `lög.example\n5\n${randomBytes(32).toString('base64')}\n\n— lög.example AbCd\n`;
  const signedB = `rekor.example\n900\n${randomBytes(32).toString('base64')}\n\n— rekor.example "q"\\ x\n`;
  const cases: [LoggedEntry['kind'], AppendResult][] = [
    ['hashedrekord', result(0, 1, 0, signedA)],
    ['hashedrekord', result(3, 5, 3, signedA)],
    ['dsse', result(4, 5, 1, signedA)],
    ['hashedrekord', result(899, 900, 10, signedB)],
    ['hashedrekord', result(3, 5, 3, signedA)],
  ];
  for (const [kind, r] of cases) {
    const entry: LoggedEntry = { kind, version: '0.0.2', body: r.entry.leaf };
    const bytes = writer.bytes(entry, r);
    assert.equal(bytes.toString('utf8'), transparencyLogEntryJson(entry, r, logId));
    assert.deepEqual(bytes, Buffer.from(transparencyLogEntryJson(entry, r, logId), 'utf8'));
  }
});
