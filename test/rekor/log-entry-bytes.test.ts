import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { logEntryMap, logEntryMapBytes, treeHeadJson, type EntryParts } from '../../src/rekor/log-entry.js';

test('the append answer bytes are logEntryMap in UTF-8, whatever the checkpoint holds', () => {
  const notes = [
    `rekor.example - 42\n900\n${randomBytes(32).toString('base64')}\n\n— rekor.example AbCd\n`,
    `lög.example\n1\n${randomBytes(32).toString('base64')}\nTimestamp: 1\n\n— lög.example "q"\\ x\n`,
  ];
  for (const note of notes)
    for (const proofLength of [0, 1, 17]) {
      const th = treeHeadJson(900, randomBytes(32), note);
      const e: EntryParts = {
        uuid: randomBytes(40).toString('hex'),
        bodyB64: randomBytes(700).toString('base64'),
        integratedTime: 1_700_000_000,
        logID: randomBytes(32).toString('hex'),
        logIndex: 1899,
        proofIndex: 899,
        setB64: randomBytes(70).toString('base64'),
        proof: Array.from({ length: proofLength }, () => randomBytes(32)),
      };
      assert.deepEqual(logEntryMapBytes(e, th), Buffer.from(logEntryMap(e, th), 'utf8'));
      assert.deepEqual(JSON.parse(logEntryMapBytes(e, th).toString('utf8')), JSON.parse(logEntryMap(e, th)));
    }
});
