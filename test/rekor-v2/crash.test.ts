import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FieldReader } from '../../src/bundle/protojson.js';
import { parseTlogEntry } from '../../src/bundle/bundle.js';
import { decodeEntryBundle } from '../../src/log/tiles/bundle.js';
import { parseCheckpoint, parseSignedNote } from '../../src/bundle/signed-note.js';
import { tilePath } from '../../src/log/tiles/paths.js';
import {
  appendUntilKilled,
  count,
  exited,
  postJson,
  rng,
  sleep,
  spawnServer,
  stop,
  tempDir,
} from '../reliability/helpers.js';
import { hashedRekordRequest, p256 } from './helpers.js';

const ROUNDS = count('SIGIL_CRASH_ROUNDS', 6, 50);
const WRITERS = 32;
const SEED = Number(process.env.SIGIL_CRASH_SEED ?? Date.now() % 1_000_000);

interface Ack {
  index: number;
  body: Buffer;
}

/** WRITERS clients append until the server is SIGKILLed `killAfterMs` after the first acknowledgement. */
async function loadThenKill(url: string, kill: () => void, killAfterMs: number): Promise<Ack[]> {
  const keys = p256();
  const acks: Ack[] = [];
  const append = async (dead: () => boolean): Promise<boolean> => {
    let text: string;
    let status: number;
    try {
      const res = await postJson(
        `${url}/api/v2/log/entries`,
        JSON.stringify(hashedRekordRequest(undefined, keys).body),
      );
      status = res.status;
      text = await res.text();
    } catch {
      return false; // in flight at the kill: never acknowledged
    }
    if (status !== 201) {
      if (dead()) return false;
      throw new Error(`create answered ${status}: ${text}`);
    }
    const e = parseTlogEntry(new FieldReader('INVALID_ENTRY', 'tle'), JSON.parse(text));
    acks.push({ index: e.logIndex, body: e.canonicalizedBody });
    return true;
  };
  await appendUntilKilled(WRITERS, append, kill, killAfterMs);
  return acks;
}

/** The entry at `index` as the tlog-tiles read path serves it (entry bundles of 256). */
async function entryAt(url: string, index: number, size: number): Promise<Buffer | undefined> {
  const tile = Math.floor(index / 256);
  const width = Math.min(256, size - tile * 256);
  const res = await fetch(`${url}/${tilePath({ level: 'entries', index: tile, width })}`);
  if (res.status !== 200) return undefined;
  return decodeEntryBundle(Buffer.from(await res.arrayBuffer()))[index % 256];
}

test(`SIGKILL of \`sigil log serve --api v2\` under ${WRITERS} concurrent appends, ${ROUNDS} rounds (seed ${SEED})`, async (t) => {
  const dir = tempDir(t, 'sigil-v2-crash-');
  const random = rng(SEED);
  const all = new Map<number, Buffer>();
  let pending: Ack[] = [];
  let keyPem = '';
  for (let round = 0; round <= ROUNDS; round++) {
    const served = await spawnServer(['log', 'serve', '--api', 'v2', '--port', '0', '--data-dir', dir]);
    try {
      // The tiles catch up with the durable tree shortly after start.
      const maxIndex = Math.max(-1, ...all.keys());
      let note: ReturnType<typeof parseSignedNote> | undefined;
      let size = -1;
      for (let i = 0; i < 100; i++) {
        const res = await fetch(`${served.url}/checkpoint`);
        if (res.status === 200) {
          note = parseSignedNote(await res.text());
          size = parseCheckpoint(note.text).size;
          if (size > maxIndex) break;
        }
        await sleep(100);
      }
      assert.ok(note, `round ${round}: a checkpoint is served`);
      const origin = parseCheckpoint(note.text).origin;
      const sig = note.signatures[0]!;
      if (!keyPem) keyPem = sig.keyHint.toString('hex');
      assert.equal(sig.keyHint.toString('hex'), keyPem, 'the same v2 key after every restart');
      assert.equal(origin, '127.0.0.1');
      assert.ok(
        size > maxIndex,
        `round ${round}: checkpoint size ${size} covers acknowledged index ${maxIndex}`,
      );
      // Every entry acknowledged before the kill: at its index, byte for byte (no index reused).
      const sample = [...all.keys()].filter(() => random() < 0.05).slice(0, 30);
      for (const index of [...pending.map((a) => a.index), ...sample]) {
        const got = await entryAt(served.url, index, size);
        assert.ok(
          got?.equals(all.get(index)!),
          `round ${round}: acknowledged index ${index} holds its entry`,
        );
      }
      if (round === ROUNDS) break;
      const acks = await loadThenKill(
        served.url,
        () => served.proc.kill('SIGKILL'),
        Math.floor(random() * 400),
      );
      await exited(served.proc);
      assert.ok(acks.length > 0, `round ${round}: some appends were acknowledged`);
      for (const a of acks) {
        assert.ok(!all.has(a.index), `round ${round}: index ${a.index} acknowledged twice`);
        all.set(a.index, a.body);
      }
      pending = acks;
    } finally {
      await stop(served.proc, 'SIGKILL');
    }
  }
  assert.ok(all.size > ROUNDS, `${all.size} acknowledged entries checked across ${ROUNDS} kills`);
});
