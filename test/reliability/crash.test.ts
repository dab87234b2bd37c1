import assert from 'node:assert/strict';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { test } from 'node:test';
import { parseSignedNote, verifyNote, ecdsaKeyHint } from '../../src/bundle/signed-note.js';
import { verifyConsistency } from '../../src/merkle/index.js';
import { RekorClient } from '../../src/rekor/client.js';
import type { IdentifiedLogEntry } from '../../src/rekor/log-entry.js';
import { verifyLogEntry } from '../../src/rekor/verify-entry.js';
import {
  appendUntilKilled,
  count,
  entryMaker,
  exited,
  postJson,
  rng,
  spawnServer,
  stop,
  tempDir,
} from './helpers.js';

const ROUNDS = count('SIGIL_CRASH_ROUNDS', 20, 100);
const WRITERS = 16;
const SEED = Number(process.env.SIGIL_CRASH_SEED ?? Date.now() % 1_000_000);

interface Round {
  acks: IdentifiedLogEntry[];
  failed: number;
  killAfterMs: number;
}

/** Appends with WRITERS concurrent clients until the process is SIGKILLed `killAfterMs` after the first ack. */
async function loadThenKill(url: string, kill: () => void, killAfterMs: number): Promise<Round> {
  const next = entryMaker();
  const round: Round = { acks: [], failed: 0, killAfterMs };
  const append = async (dead: () => boolean): Promise<boolean> => {
    let res: Response;
    try {
      res = await postJson(`${url}/api/v1/log/entries`, next());
    } catch {
      round.failed++; // in flight at the kill: never acknowledged
      return false;
    }
    const text = await res.text().catch(() => undefined);
    if (res.status !== 201 || text === undefined) {
      if (text === undefined || dead()) {
        round.failed++;
        return false;
      }
      throw new Error(`create answered ${res.status}: ${text}`);
    }
    const [uuid, e] = Object.entries(
      JSON.parse(text) as Record<string, Omit<IdentifiedLogEntry, 'uuid'>>,
    )[0]!;
    round.acks.push({ uuid, ...e });
    return true;
  };
  await appendUntilKilled(WRITERS, append, kill, killAfterMs);
  return round;
}

function checkpointSigned(checkpoint: string, key: KeyObject, name: string): boolean {
  const note = parseSignedNote(checkpoint);
  return note.signatures.length > 0 && verifyNote(note, name, ecdsaKeyHint(key), key);
}

test(`SIGKILL of \`sigil log serve\` at random moments under load, ${ROUNDS} rounds (seed ${SEED})`, async (t) => {
  const dir = tempDir(t);
  const random = rng(SEED);
  const all = new Map<number, IdentifiedLogEntry>(); // logIndex → acknowledged entry
  let pending: IdentifiedLogEntry[] = []; // acknowledged in the last round, checked after the restart
  let key: KeyObject | undefined;
  let keyPem = '';
  let failedTotal = 0;
  for (let round = 0; round <= ROUNDS; round++) {
    const served = await spawnServer(['log', 'serve', '--port', '0', '--data-dir', dir, '--workers', '1']);
    const client = new RekorClient(served.url);
    try {
      const pem = await client.publicKey();
      if (!key) {
        key = createPublicKey(pem);
        keyPem = pem;
      }
      assert.equal(pem, keyPem, 'the same log key after every restart');
      const info = await client.logInfo();
      const root = Buffer.from(info.rootHash, 'hex');
      const maxIndex = Math.max(-1, ...all.keys());
      assert.ok(
        info.treeSize > maxIndex,
        `round ${round}: tree size ${info.treeSize} covers acknowledged index ${maxIndex}`,
      );
      assert.ok(
        checkpointSigned(info.signedTreeHead, key, checkpointNameOf(info.signedTreeHead)),
        'current checkpoint signed',
      );

      // Every entry acknowledged before the last kill: present by index and by UUID, byte for byte.
      const sample = [...all.values()].filter(() => random() < 0.02).slice(0, 20);
      for (const ack of [...pending, ...sample]) {
        const byIndex = await client.getEntryByIndex(ack.logIndex);
        assert.ok(byIndex, `acknowledged index ${ack.logIndex} present`);
        assert.equal(
          byIndex.uuid,
          ack.uuid,
          `index ${ack.logIndex} holds the acknowledged entry (not reused)`,
        );
        assert.equal(byIndex.body, ack.body);
        const byUuid = await client.getEntryByUuid(ack.uuid);
        assert.equal(byUuid?.logIndex, ack.logIndex, `UUID ${ack.uuid} found at its index`);
      }
      // Every checkpoint handed out before the kill: signed by the log key and consistent with the new tree.
      const heads = new Map<number, { root: string; checkpoint: string }>();
      for (const a of pending) {
        const p = a.verification.inclusionProof;
        heads.set(p.treeSize, { root: p.rootHash, checkpoint: p.checkpoint });
      }
      for (const [size, h] of heads) {
        assert.ok(
          checkpointSigned(h.checkpoint, key, checkpointNameOf(h.checkpoint)),
          `checkpoint ${size} signed`,
        );
        const proof = await client.consistencyProof(size, info.treeSize);
        const hashes = proof.hashes.map((x) => Buffer.from(x, 'hex'));
        assert.ok(
          verifyConsistency(size, info.treeSize, Buffer.from(h.root, 'hex'), root, hashes),
          `round ${round}: checkpoint of size ${size} consistent with size ${info.treeSize}`,
        );
      }
      if (round === ROUNDS) break;

      const killAfterMs = Math.floor(random() * 400);
      const r = await loadThenKill(served.url, () => served.proc.kill('SIGKILL'), killAfterMs);
      await exited(served.proc);
      failedTotal += r.failed;
      for (const a of r.acks) {
        assert.ok(!all.has(a.logIndex), `round ${round}: index ${a.logIndex} acknowledged twice`);
        all.set(a.logIndex, a);
      }
      // SET, inclusion proof and checkpoint of a few acknowledgements, as a client would check them.
      for (const a of r.acks.slice(0, 3)) verifyLogEntry(a, key);
      pending = r.acks;
    } finally {
      await stop(served.proc, 'SIGKILL');
    }
  }
  assert.ok(all.size >= ROUNDS * 5, `enough acknowledged entries across rounds (${all.size})`);
  assert.ok(failedTotal > 0, 'kills happened with requests in flight');
  t.diagnostic(
    `rounds=${ROUNDS} acknowledged=${all.size} unacknowledged-in-flight=${failedTotal} seed=${SEED}`,
  );
});

function checkpointNameOf(checkpoint: string): string {
  const sig = checkpoint.split('\n\n')[1]?.split('\n')[0] ?? '';
  return sig.replace(/^— /, '').split(' ')[0] ?? '';
}
