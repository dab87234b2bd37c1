// The explorer's browser checks (web/verify.js) on entries of a frozen shard and of the active one.
import assert from 'node:assert/strict';
import { test } from 'node:test';
// @ts-expect-error plain browser JS module without type declarations
import * as web from '../../web/verify.js';
import { getJson, grow, only, rotatedAfter, type LogInfoJson } from './helpers.js';

interface Check {
  id: string;
  ok: boolean;
  detail: string;
}

test("the explorer's checks pass for entries of both shards against their own tree's checkpoint", async (t) => {
  const { server } = await rotatedAfter(t, async (s) => void (await grow(s, 3)));
  await grow(server, 3);
  const info = (await getJson<LogInfoJson>(`${server.url}/api/v1/log`)).json;
  const key = await web.importP256PublicKey(server.publicKeyPem);
  const name = new URL(server.url).hostname;
  for (const index of [1, 4]) {
    const entry = only(
      (await getJson<Record<string, never>>(`${server.url}/api/v1/log/entries?logIndex=${index}`)).json,
    );
    const note = index < 3 ? info.inactiveShards![0]!.signedTreeHead : info.signedTreeHead;
    const checks = (await web.checkEntry(entry, { note, name, logKey: key })) as Check[];
    assert.ok(checks.length >= 4);
    for (const c of checks) assert.equal(c.ok, true, `index ${index}: ${c.id}: ${c.detail}`);
  }
});
