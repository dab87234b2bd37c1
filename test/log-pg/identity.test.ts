import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateP256, parsePublicKeyOrCertificate, sha256, spkiDer } from '../../src/crypto/index.js';
import { verifyConsistency } from '../../src/merkle/index.js';
import { parseCheckpoint, parseSignedNote } from '../../src/bundle/signed-note.js';
import type { IdentifiedLogEntry } from '../../src/rekor/log-entry.js';
import { verifyLogEntry } from '../../src/rekor/verify-entry.js';
import { exited, hashedRekord, post, ROOT, tempDir } from '../rekor/helpers.js';
import { requirePostgres, sql, testDatabase } from './helpers.js';
import { migrateCli, sequencerPid, spawnReplica, type Replica } from './replicas.js';

function sigil(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['bin/sigil.js', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, SIGIL_LOG_LEVEL: 'silent', ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function killAtEnd(t: import('node:test').TestContext): Replica[] {
  const replicas: Replica[] = [];
  t.after(() => {
    for (const r of replicas) r.proc.kill('SIGKILL');
  });
  return replicas;
}

/** verifyLogEntry with the place it failed named. */
function check(
  e: IdentifiedLogEntry,
  trusted: import('node:crypto').KeyObject,
  where: string,
): ReturnType<typeof verifyLogEntry> {
  try {
    return verifyLogEntry(e, trusted, { checkpointName: 'sigil-log.test' });
  } catch (err) {
    const p = e.verification?.inclusionProof;
    throw new Error(
      `${where} (acked via ${(e as { via?: number }).via}): entry ${e.logIndex} in tree ${p?.treeSize}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

async function entryOf(res: Response): Promise<IdentifiedLogEntry> {
  const map = (await res.json()) as Record<string, Omit<IdentifiedLogEntry, 'uuid'>>;
  const [uuid, e] = Object.entries(map)[0]!;
  return { uuid, ...e };
}

test('a replica whose log key differs from the one the database records refuses to start, with a hint', async (t) => {
  if (!(await requirePostgres(t))) return;
  const replicas = killAtEnd(t);
  const db = await testDatabase(t);
  migrateCli(db);
  replicas.push(await spawnReplica(db, tempDir(t))); // records its freshly made key
  const other = sigil([
    'log',
    'serve',
    '--store',
    'postgres',
    '--database-url',
    db,
    '--port',
    '0',
    '--data-dir',
    tempDir(t),
    '--workers',
    '0',
    '--public-url',
    'http://sigil-log.test',
  ]);
  assert.notEqual(other.status, 0, 'the second replica exits');
  const lines = other.stderr.trim().split('\n');
  assert.match(
    lines[0]!,
    /^sigil: error: this replica's log key ID [0-9a-f]{64} differs from the one the log's database records \([0-9a-f]{64}\)$/,
  );
  assert.match(lines[1]!, /^sigil: hint: .*--log-key FILE \(SIGIL_LOG_KEY_FILE\)/);
  assert.equal(lines.length, 2, other.stderr);

  // `log migrate --log-key` records the key before any replica starts; another key is refused there too.
  const db2 = await testDatabase(t);
  const dir = tempDir(t);
  const pem = generateP256().privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  writeFileSync(join(dir, 'shared.pem'), pem, { mode: 0o600 });
  const other2 = generateP256().privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  writeFileSync(join(dir, 'other.pem'), other2, { mode: 0o600 });
  assert.equal(
    sigil(['log', 'migrate', '--database-url', db2, '--log-key', join(dir, 'shared.pem')]).status,
    0,
  );
  const refused = sigil(['log', 'migrate', '--database-url', db2], {
    SIGIL_LOG_KEY_FILE: join(dir, 'other.pem'),
  });
  assert.notEqual(refused.status, 0);
  assert.match(refused.stderr, /^sigil: error: this replica's log key ID/);
  const stored = await sql<{ value: string }>(db2, `SELECT value FROM sigil_log.meta WHERE key = 'log_id'`);
  assert.equal(stored[0]!.value, sha256(spkiDer(createPublicKey(pem))).toString('hex'));
});

test('two replicas with the shared --log-key: either one serves entries, SETs and checkpoints that verify with the trusted key; one killed under load, nothing acknowledged lost', async (t) => {
  if (!(await requirePostgres(t))) return;
  const replicas = killAtEnd(t);
  const db = await testDatabase(t);
  const keyDir = tempDir(t);
  const keyFile = join(keyDir, 'log-signing-key.pem');
  const { privateKey } = generateP256();
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
  // The key a trusted root carries for this log: derived from the shared file, not fetched from a replica.
  const trusted = createPublicKey(privateKey);
  const trustedId = sha256(spkiDer(trusted)).toString('hex');
  assert.equal(sigil(['log', 'migrate', '--database-url', db, '--log-key', keyFile]).status, 0);
  // Each replica has its own data dir; one takes the key by flag, the other by environment.
  replicas.push(await spawnReplica(db, tempDir(t), ['--log-key', keyFile]));
  process.env.SIGIL_LOG_KEY_FILE = keyFile;
  try {
    replicas.push(await spawnReplica(db, tempDir(t)));
  } finally {
    delete process.env.SIGIL_LOG_KEY_FILE;
  }

  for (const r of replicas) {
    const info = sigil(['log', 'info', '--log-url', r.url]);
    assert.equal(info.status, 0, info.stderr);
    assert.match(info.stdout, new RegExp(`^Log ID: ${trustedId}$`, 'm'), `log info on ${r.url}`);
    const pem = await (await fetch(`${r.url}/api/v1/log/publicKey`)).text();
    assert.ok(parsePublicKeyOrCertificate(pem).key.equals(trusted), 'the served key is the trusted one');
  }

  // Entries made through either replica verify (SET, inclusion proof, checkpoint) when read through the other.
  for (const [from, to] of [
    [0, 1],
    [1, 0],
  ] as const) {
    const res = await post(replicas[from]!.url, '/api/v1/log/entries', hashedRekord().entry);
    assert.equal(res.status, 201);
    const made = await entryOf(res);
    check(made, trusted, `made through replica ${from}`);
    // The other replica serves it once its tree head covers it (it learns of heads by LISTEN).
    let read = await fetch(`${replicas[to]!.url}/api/v1/log/entries/${made.uuid}`);
    for (let i = 0; i < 50 && read.status === 404; i++) {
      await read.arrayBuffer();
      await new Promise((r) => setTimeout(r, 100));
      read = await fetch(`${replicas[to]!.url}/api/v1/log/entries/${made.uuid}`);
    }
    assert.equal(read.status, 200, `replica ${to} serves the entry made through replica ${from}`);
    const again = await entryOf(read);
    const v = check(again, trusted, `read through replica ${to}`);
    assert.equal(v.logIndex, made.logIndex);
  }

  // Load on both, kill the sequencer, keep going on the survivor.
  const acks: IdentifiedLogEntry[] = [];
  let stop = false;
  const alive = new Set([0, 1]);
  const client = async (c: number): Promise<void> => {
    for (let n = 0; !stop; n++) {
      const live = [...alive];
      const r = replicas[live[(c + n) % live.length]!]!;
      try {
        const res = await post(r.url, '/api/v1/log/entries', hashedRekord().entry);
        if (res.status === 201)
          acks.push({ ...(await entryOf(res)), via: r === replicas[0] ? 0 : 1 } as IdentifiedLogEntry);
        else await res.arrayBuffer();
      } catch {
        await new Promise((res) => setTimeout(res, 20)); // refused or reset by the kill: not acknowledged
      }
    }
  };
  const load = Promise.all(Array.from({ length: 8 }, (_, c) => client(c)));
  await new Promise((r) => setTimeout(r, 2000));
  const seqPid = await sequencerPid(db);
  const victim = replicas.findIndex((r) => r.proc.pid === seqPid);
  assert.ok(victim >= 0, 'one replica sequences');
  const beforeKill = acks.length;
  replicas[victim]!.proc.kill('SIGKILL');
  alive.delete(victim);
  await exited(replicas[victim]!.proc);
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && acks.length < beforeKill + 30) await new Promise((r) => setTimeout(r, 100));
  stop = true;
  await load;
  assert.ok(
    acks.length >= beforeKill + 30,
    `the survivor kept acknowledging (${beforeKill} → ${acks.length})`,
  );

  const survivor = replicas[1 - victim]!;
  const head = (await (await fetch(`${survivor.url}/api/v1/log`)).json()) as {
    treeSize: number;
    rootHash: string;
    signedTreeHead: string;
  };
  for (const a of acks) {
    check(a, trusted, 'as acknowledged');
    const res = await fetch(`${survivor.url}/api/v1/log/entries/${a.uuid}`);
    assert.equal(res.status, 200, `acknowledged entry ${a.logIndex} is served by the survivor`);
    const got = await entryOf(res);
    assert.equal(got.logIndex, a.logIndex);
    check(got, trusted, 'read from the survivor');
  }
  // Every acknowledged tree head is consistent with the survivor's latest one.
  const latest = parseCheckpoint(parseSignedNote(head.signedTreeHead).text);
  for (const size of new Set(acks.map((a) => a.verification!.inclusionProof!.treeSize))) {
    const root = acks.find((a) => a.verification!.inclusionProof!.treeSize === size)!.verification!
      .inclusionProof!.rootHash;
    const proof = (await (
      await fetch(`${survivor.url}/api/v1/log/proof?firstSize=${size}&lastSize=${head.treeSize}`)
    ).json()) as { hashes: string[] };
    assert.ok(
      verifyConsistency(
        size,
        head.treeSize,
        Buffer.from(root, 'hex'),
        latest.rootHash,
        proof.hashes.map((h) => Buffer.from(h, 'hex')),
      ),
      `tree head ${size} is a prefix of the survivor's ${head.treeSize}`,
    );
  }
});
