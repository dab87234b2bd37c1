import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { getTrustedRoot } from '@sigstore/tuf';
import { generateP256, pemBlocks } from '../../src/crypto/index.js';
import { selfSignedCert } from '../rekor/helpers.js';
import { isSigilError } from '../../src/errors/index.js';
import {
  buildTufFiles,
  buildTufRoot,
  fetchTufTrustedRoot,
  openServedTufRepository,
  TUF_CACHE_MS,
  TufTrustedRoots,
  type TufSource,
} from '../../src/tuf/index.js';
import { serveTuf, tufTempDir } from './helpers.js';
import type { TrustedRoot } from '../../src/bundle/index.js';

const TRUSTED_ROOT = {
  mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
  tlogs: [],
  certificateAuthorities: [
    {
      subject: { organization: 'sigil', commonName: 'tuf test' },
      uri: 'https://ca.example',
      certChain: {
        certificates: [
          {
            rawBytes: pemBlocks(
              (await selfSignedCert([{ type: 'dns', value: 'ca.test' }])).pem,
            )[0]!.der.toString('base64'),
          },
        ],
      },
      validFor: { start: '2026-01-01T00:00:00Z' },
    },
  ],
  ctlogs: [],
  timestampAuthorities: [],
};
const ROOT_BYTES = Buffer.from(JSON.stringify(TRUSTED_ROOT));

async function rawServer(t: TestContext, handler: Parameters<typeof createServer>[1]): Promise<string> {
  const s: Server = createServer(handler);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  t.after(() => {
    s.closeAllConnections();
    s.close();
  });
  const { port } = s.address() as { port: number };
  return `http://127.0.0.1:${port}/tuf`;
}

async function refused(source: TufSource, why: RegExp): Promise<void> {
  await assert.rejects(fetchTufTrustedRoot(source), (e: unknown) => {
    assert.ok(isSigilError(e, 'UPSTREAM_ERROR'), String(e));
    assert.ok(e.message.startsWith(`tuf ${source.mirror}:`), e.message);
    assert.match(e.message, why);
    return true;
  });
}

test('the served repository is read by @sigstore/tuf (the reference client) and by sigil, both giving its trusted root', async (t) => {
  const dir = tufTempDir(t);
  const repo = openServedTufRepository(dir, { 'trusted_root.json': ROOT_BYTES });
  t.after(() => repo.close());
  assert.equal(statSync(join(dir, 'tuf-root.key')).mode & 0o777, 0o600);
  assert.deepEqual(readFileSync(join(dir, 'tuf-root.json')), repo.rootJson);
  const url = await serveTuf(t, () => repo.files());
  const theirs = await getTrustedRoot({
    mirrorURL: url,
    rootPath: repo.rootPath,
    cachePath: join(dir, 'sigstore-cache'),
    forceInit: true,
  });
  assert.equal(theirs.certificateAuthorities[0]?.uri, 'https://ca.example');
  const ours = await fetchTufTrustedRoot({ mirror: url, root: repo.rootJson });
  assert.equal(ours.certificateAuthorities[0]?.uri, 'https://ca.example');
  // A restart keeps the key and root, and numbers the new metadata above the old.
  const before = JSON.parse(repo.files().get('timestamp.json')!.toString()).signed.version as number;
  const again = openServedTufRepository(dir, { 'trusted_root.json': ROOT_BYTES });
  t.after(() => again.close());
  assert.deepEqual(again.rootJson, repo.rootJson);
  const after = JSON.parse(again.files().get('timestamp.json')!.toString()).signed.version as number;
  assert.ok(after > before, `${after} > ${before}`);
  // sigstore-java reads TUF versions as a Java int, rust-tuf as a u32.
  for (const [name, bytes] of again.files())
    if (!name.startsWith('targets/')) {
      const v = (JSON.parse(bytes.toString()) as { signed: { version: number } }).signed.version;
      assert.ok(Number.isInteger(v) && v >= 1 && v <= 2 ** 31 - 1, `${name} version ${v}`);
    }
});

test('a root past half its life is renewed with the same key as version 2, and clients holding version 1 follow it', async (t) => {
  const dir = tufTempDir(t);
  const key = generateP256().privateKey;
  writeFileSync(join(dir, 'tuf-root.key'), key.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  // Version 1 was made 400 days ago: expired, as a data directory left for a year would hold it.
  const first = buildTufRoot(key, new Date(Date.now() - 400 * 86_400_000));
  writeFileSync(join(dir, 'tuf-root.json'), first);
  const repo = openServedTufRepository(dir, { 'trusted_root.json': ROOT_BYTES });
  t.after(() => repo.close());
  assert.deepEqual(repo.rootJson, first, 'the root a policy holds does not change');
  const second = JSON.parse(readFileSync(join(dir, 'tuf-root.2.json'), 'utf8')).signed;
  assert.equal(second.version, 2);
  assert.ok(Date.parse(second.expires) > Date.now() + 300 * 86_400_000);
  const url = await serveTuf(t, () => repo.files());
  const ours = await fetchTufTrustedRoot({ mirror: url, root: first });
  assert.equal(ours.certificateAuthorities[0]?.uri, 'https://ca.example');
  const theirs = await getTrustedRoot({
    mirrorURL: url,
    rootPath: join(dir, 'tuf-root.json'),
    cachePath: join(dir, 'sigstore-cache'),
    forceInit: true,
  });
  assert.equal(theirs.certificateAuthorities[0]?.uri, 'https://ca.example');
  // A restart keeps version 2 (still young) and makes no third.
  const again = openServedTufRepository(dir, { 'trusted_root.json': ROOT_BYTES });
  t.after(() => again.close());
  assert.ok(again.files().has('2.root.json') && !again.files().has('3.root.json'));
});

test('a repository signed with another key, an expired root, a tampered target or a redirect is refused', async (t) => {
  const now = new Date();
  const key = generateP256().privateKey;
  const root = buildTufRoot(key, now);
  const good = buildTufFiles(key, root, { 'trusted_root.json': ROOT_BYTES }, 7, now);
  assert.equal(
    (await fetchTufTrustedRoot({ mirror: await serveTuf(t, () => good), root })).certificateAuthorities
      .length,
    1,
  );

  const other = generateP256().privateKey;
  const forged = buildTufFiles(other, buildTufRoot(other, now), { 'trusted_root.json': ROOT_BYTES }, 7, now);
  await refused({ mirror: await serveTuf(t, () => forged), root }, /signed by 0\/1 keys/);

  const longAgo = new Date(now.getTime() - 400 * 86_400_000);
  const oldRoot = buildTufRoot(key, longAgo);
  const oldFiles = buildTufFiles(key, oldRoot, { 'trusted_root.json': ROOT_BYTES }, 7, now);
  await refused({ mirror: await serveTuf(t, () => oldFiles), root: oldRoot }, /expired/i);

  const tampered = new Map(good);
  for (const [path, bytes] of tampered)
    if (path.startsWith('targets/'))
      tampered.set(path, Buffer.from(bytes.toString().replace('tuf test', 'tuf tesT')));
  await refused({ mirror: await serveTuf(t, () => tampered), root }, /hash|length|digest/i);

  const target = await serveTuf(t, () => good);
  const redirecting = await rawServer(t, (req, res) => {
    res.writeHead(302, { location: `${target}${req.url!.replace(/^\/tuf/, '')}` }).end();
  });
  await refused({ mirror: redirecting, root }, /redirect|fetch failed/i);

  const notARoot = buildTufFiles(key, root, { 'trusted_root.json': Buffer.from('{"tlogs": 5}') }, 7, now);
  await refused({ mirror: await serveTuf(t, () => notARoot), root }, /not a trusted root/);
});

test('an unreachable or silent mirror fails within the bounds, naming the mirror', async (t) => {
  const root = buildTufRoot(generateP256().privateKey, new Date());
  await refused({ mirror: `http://127.0.0.1:1/tuf`, root }, /cannot reach/);
  const silent = await rawServer(t, () => undefined);
  const started = Date.now();
  await refused({ mirror: silent, root }, /cannot reach|no answer/);
  const took = Date.now() - started;
  assert.ok(took < 11_000, `gave up after ${took} ms`);
});

test('trusted roots are fetched once per (mirror, root) while fresh; a due root answers while its update runs; a failure is remembered briefly, then retried', async () => {
  let clock = 1_000_000;
  const calls: string[] = [];
  let fail = false;
  let gate: Promise<void> | undefined;
  const roots = new TufTrustedRoots(
    async (s) => {
      calls.push(s.mirror);
      await gate;
      if (fail) throw new Error('down');
      return TRUSTED_ROOT as unknown as TrustedRoot;
    },
    () => clock,
  );
  const a: TufSource = { mirror: 'https://a.example', root: Buffer.from('root-a') };
  const b: TufSource = { mirror: 'https://a.example', root: Buffer.from('root-b') };
  const [x, y] = await Promise.all([roots.get(a), roots.get(a)]);
  assert.equal(x, y);
  assert.deepEqual(calls, ['https://a.example'], 'two reviews at once make one update');
  await roots.get(b);
  assert.equal(calls.length, 2, 'another root is another repository state');
  clock += TUF_CACHE_MS.ok - 1;
  await roots.get(a);
  assert.equal(calls.length, 2);
  clock += 2;
  fail = true;
  let release!: () => void;
  gate = new Promise<void>((r) => (release = r));
  assert.equal(await roots.get(a), TRUSTED_ROOT, 'a due root answers while its update runs');
  assert.equal(await roots.get(a), TRUSTED_ROOT);
  assert.equal(calls.length, 3, 'one update for both');
  release();
  await new Promise((r) => setImmediate(r));
  await assert.rejects(roots.get(a), /down/, 'the failed update ended that root');
  assert.equal(calls.length, 3, 'a failure is not retried at once');
  clock += TUF_CACHE_MS.failure + 1;
  fail = false;
  gate = undefined;
  assert.equal(await roots.get(a), TRUSTED_ROOT);
  assert.equal(calls.length, 4);
  clock += 2 * TUF_CACHE_MS.ok + 1;
  fail = true;
  await assert.rejects(roots.get(a), /down/, 'a root long past due is not used while it is updated');
  assert.equal(calls.length, 5);
});
