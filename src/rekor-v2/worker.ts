import { parentPort } from 'node:worker_threads';
import { toSigilError } from '../errors/index.js';
import { parseCreateEntryRequest } from './request.js';
import type { Outcome } from './pool.js';

/** Worker-thread side of pool.ts: one message = the requests of one event-loop turn. */
parentPort?.on('message', (msg: { id: number; limit: number; texts: string[] }) => {
  const results: Outcome[] = msg.texts.map((text) => {
    try {
      const e = parseCreateEntryRequest(text, msg.limit);
      return { ok: true, kind: e.kind, body: new Uint8Array(e.body) };
    } catch (err) {
      const s = toSigilError(err, 'INVALID_ENTRY');
      return { ok: false, code: s.code, message: s.message };
    }
  });
  parentPort?.postMessage({ id: msg.id, results });
});
parentPort?.postMessage({ ready: true });
