import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { parsePolicyText } from '../../src/admission/policy/index.js';
import { generateP256 } from '../../src/crypto/index.js';
import { isSigilError } from '../../src/errors/index.js';
import type { TrustedRoot } from '../../src/bundle/index.js';
import {
  buildTufFiles,
  buildTufRoot,
  fetchTufTrustedRoot,
  openServedTufRepository,
  TUF_KEY_FILE,
  TUF_LIMITS,
  TufTrustedRoots,
} from '../../src/tuf/index.js';
import { refusedPolicy, tufPolicy, tufTempDir } from './helpers.js';

const policy = (root: string, mirror = 'https://tuf.example') =>
  tufPolicy('rt', root, { mirror, validations: true });

test('tuf.root.path that is not a regular file (a device, a FIFO) is refused, neither read forever nor blocked on', (t) => {
  refusedPolicy(
    policy('            path: /dev/zero'),
    /tuf\.root\.path: cannot read "\/dev\/zero": not a regular file/,
  );
  const fifo = join(tufTempDir(t), 'root.fifo');
  execFileSync('mkfifo', [fifo]);
  refusedPolicy(policy(`            path: ${fifo}`), /tuf\.root\.path: cannot read .*: not a regular file/);
  const dir = tufTempDir(t);
  refusedPolicy(policy(`            path: ${dir}`), /tuf\.root\.path: cannot read .*: not a regular file/);
  const root = join(dir, 'root.json');
  writeFileSync(root, buildTufRoot(generateP256().privateKey, new Date()));
  assert.equal(
    parsePolicyText(policy(`            path: ${root}`), 'p.yaml', { hasTrustedRoot: false }).length,
    1,
  );
});

test('tuf.root.path as a URL must be https: a root fetched in clear text is chosen by whoever is on the path', () => {
  refusedPolicy(policy('            path: http://tuf.example/1.root.json'), /tuf\.root\.path: .*plain HTTP/);
  refusedPolicy(policy('            path: HTTP://tuf.example/1.root.json'), /tuf\.root\.path: .*plain HTTP/);
  const [p] = parsePolicyText(policy('            path: https://tuf.example/1.root.json'), 'p.yaml', {
    hasTrustedRoot: false,
  });
  const tuf = [...p!.ivp!.attestors.values()][0]!.attestor.tuf;
  assert.deepEqual(tuf, { mirror: 'https://tuf.example', root: { url: 'https://tuf.example/1.root.json' } });
});

test('an update past its deadline is refused, and its late answers neither crash nor leave files behind', async (t) => {
  const key = generateP256().privateKey;
  const now = new Date();
  const root = buildTufRoot(key, now);
  const files = buildTufFiles(key, root, { 'trusted_root.json': Buffer.from('{}') }, 1, now);
  // Each answer just inside the per-request bound: the update as a whole outlives its deadline.
  const served: string[] = [];
  const server = createServer((req, res) => {
    setTimeout(() => {
      const file = files.get((req.url ?? '').replace(/^\/tuf\//, ''));
      served.push(req.url ?? '');
      res.writeHead(file ? 200 : 404).end(file);
    }, TUF_LIMITS.requestMs - 1500);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const tmp = tufTempDir(t);
  const before = process.env.TMPDIR;
  process.env.TMPDIR = tmp;
  t.after(() => (before === undefined ? delete process.env.TMPDIR : (process.env.TMPDIR = before)));
  const started = Date.now();
  const { port } = server.address() as { port: number };
  await assert.rejects(
    fetchTufTrustedRoot({ mirror: `http://127.0.0.1:${port}/tuf`, root }),
    /no answer within 10000 ms/,
  );
  assert.ok(Date.now() - started < TUF_LIMITS.updateMs + 1000);
  // (tuf-js's own temporary file of the request in flight stays until that request ends.)
  assert.deepEqual(
    readdirSync(tmp).filter((f) => f.startsWith('sigil-tuf-')),
    [],
    'the update directory is removed at the deadline',
  );
  const count = served.length;
  // The request in flight at the deadline is answered later; the update then stops.
  await new Promise((r) => setTimeout(r, TUF_LIMITS.requestMs + 1000));
  assert.ok(served.length <= count + 1, `${served.length - count} requests after the deadline`);
  assert.deepEqual(
    readdirSync(tmp),
    [],
    'a late answer is written nowhere, and tuf-js has removed its temporary file',
  );
});

test('the trusted-root cache keys (mirror, root) apart even when a URL holds the separator', async () => {
  const calls: string[] = [];
  const roots = new TufTrustedRoots(async (s) => {
    calls.push(`${s.mirror} ${JSON.stringify(s.root)}`);
    return {} as TrustedRoot;
  });
  await roots.get({ mirror: 'https://m.example/tuf', root: { url: 'https://r.example\nhttps://x.example' } });
  await roots.get({ mirror: 'https://m.example/tuf\nhttps://r.example', root: { url: 'https://x.example' } });
  assert.equal(calls.length, 2, 'two repositories, two updates');
});

test('tuf URLs holding whitespace or control characters are refused (the URL parser would drop them)', () => {
  // YAML double quotes: a tab and a newline inside the URL.
  refusedPolicy(
    policy('            data: AAAA', '"https://m.example/t\\tuf"'),
    /tuf\.mirror: .*is not a URL/,
  );
  refusedPolicy(
    policy('            path: "https://r.example/1.root\\n.json"'),
    /tuf\.root\.path: .*is not a URL/,
  );
});

test('tuf.root that is not signed by its own root keys is refused at load', () => {
  const key = generateP256().privateKey;
  const good = JSON.parse(buildTufRoot(key, new Date()).toString()) as {
    signed: { version: number };
    signatures: { keyid: string; sig: string }[];
  };
  const data = (doc: unknown) => `            data: ${Buffer.from(JSON.stringify(doc)).toString('base64')}`;
  assert.equal(parsePolicyText(policy(data(good)), 'p.yaml', { hasTrustedRoot: false }).length, 1);
  refusedPolicy(policy(data({ ...good, signatures: [] })), /tuf\.root\.data: is not a self-signed TUF root/);
  const altered = { ...good, signed: { ...good.signed, version: 2 } };
  refusedPolicy(policy(data(altered)), /tuf\.root\.data: is not a self-signed TUF root/);
  const other = JSON.parse(buildTufRoot(generateP256().privateKey, new Date()).toString()) as typeof good;
  refusedPolicy(policy(data({ ...good, signatures: other.signatures })), /is not a self-signed TUF root/);
});

test('sigil up refuses a TUF root that its key does not hold (a key made anew beside an old root)', (t) => {
  const dir = tufTempDir(t);
  openServedTufRepository(dir, {}).close();
  rmSync(join(dir, TUF_KEY_FILE));
  assert.throws(
    () => openServedTufRepository(dir, {}),
    (e: unknown) =>
      isSigilError(e, 'STORAGE_FAILURE') &&
      /tuf-root\.json does not give the root role to tuf-root\.key/.test(e.message),
  );
});
