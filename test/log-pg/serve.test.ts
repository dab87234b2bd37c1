import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { httpsGet } from '../helpers/https-get.js';
import { generateServingTls } from '../../src/admission/tls.js';
import { entryMaker, postJson } from '../reliability/helpers.js';
import { tempDir } from '../rekor/helpers.js';
import { requirePostgres, testDatabase } from './helpers.js';
import { migrateCli, spawnReplica, type Replica } from './replicas.js';

/** A migrated database and a way to start replicas on it that are killed when the test ends. */
async function replicaSet(t: import('node:test').TestContext): Promise<{
  db: string;
  dir: string;
  start(extra?: string[]): Promise<Replica>;
}> {
  const replicas: Replica[] = [];
  t.after(() => {
    for (const r of replicas) r.proc.kill('SIGKILL');
  });
  const db = await testDatabase(t);
  migrateCli(db);
  const dir = tempDir(t);
  return {
    db,
    dir,
    start: async (extra = []) => {
      const r = await spawnReplica(db, dir, extra);
      replicas.push(r);
      return r;
    },
  };
}

test('log serve --store postgres --tls-cert/--tls-key answers over HTTPS and refuses plain HTTP', async (t) => {
  if (!(await requirePostgres(t))) return;
  const set = await replicaSet(t);
  const tls = await generateServingTls(['localhost']);
  writeFileSync(join(set.dir, 'tls.crt'), tls.cert);
  writeFileSync(join(set.dir, 'tls.key'), tls.key, { mode: 0o600 });
  const r = await set.start(['--tls-cert', join(set.dir, 'tls.crt'), '--tls-key', join(set.dir, 'tls.key')]);
  assert.match(r.url, /^https:\/\//, `the replica listens on https (${r.url})`);
  const got = await httpsGet(`${r.url}/api/v1/log`, tls.caPem);
  assert.equal(got.status, 200, got.text);
  assert.equal((JSON.parse(got.text) as { treeSize: number }).treeSize, 0);
  const plain = await fetch(`${r.url.replace('https:', 'http:')}/api/v1/log`).then(
    (res) => res.status,
    () => 'refused',
  );
  assert.ok(plain === 'refused' || plain === 400, `plain HTTP is not served (${plain})`);
});

test('log serve --store postgres --max-in-flight answers 503 + Retry-After past the limit, and integrates what it accepted', async (t) => {
  if (!(await requirePostgres(t))) return;
  const set = await replicaSet(t);
  const r = await set.start(['--max-in-flight', '2']);
  const next = entryMaker();
  const results = await Promise.all(
    Array.from({ length: 64 }, async () => {
      const res = await postJson(`${r.url}/api/v1/log/entries`, next());
      return { status: res.status, retryAfter: res.headers.get('retry-after'), text: await res.text() };
    }),
  );
  const shed = results.filter((x) => x.status === 503);
  const accepted = results.filter((x) => x.status === 201);
  assert.ok(
    shed.length > 0,
    `past 2 in flight some of 64 requests are shed (${results.map((x) => x.status).join()})`,
  );
  for (const s of shed) {
    assert.match(s.retryAfter ?? '', /^\d+$/, 'a shed request carries Retry-After');
    assert.equal((JSON.parse(s.text) as { code: string }).code, 'PUSHBACK');
  }
  assert.ok(accepted.length > 0, 'requests within the limit are accepted');
  assert.equal(accepted.length + shed.length, results.length, 'nothing else is answered');
  const head = (await (await fetch(`${r.url}/api/v1/log`)).json()) as { treeSize: number };
  assert.equal(head.treeSize, accepted.length, 'every accepted entry is in the tree');
});

test('log serve --store postgres serves the explorer page', async (t) => {
  if (!(await requirePostgres(t))) return;
  const set = await replicaSet(t);
  const r = await set.start();
  const res = await fetch(`${r.url}/`);
  assert.equal(res.status, 200);
  assert.match(await res.text(), /<script type="module" src="\/explorer\/explorer.js">/);
  const js = await fetch(`${r.url}/explorer/explorer.js`);
  assert.equal(js.status, 200);
});
