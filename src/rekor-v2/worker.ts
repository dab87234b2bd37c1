import { parentPort } from 'node:worker_threads';
import { toSigilError } from '../errors/index.js';
import { parseCreateEntryRequest } from './request.js';
import { packOutcomes } from './outcomes.js';

/** Worker-thread side of pool.ts: one message = the requests of one event-loop turn. */
parentPort?.on('message', (msg: { id: number; limit: number; texts: string[] }) => {
  const results = msg.texts.map((text) => {
    try {
      return parseCreateEntryRequest(text, msg.limit);
    } catch (err) {
      const s = toSigilError(err, 'INVALID_ENTRY');
      return { code: s.code, message: s.message };
    }
  });
  const { packed, transfer } = packOutcomes(results);
  parentPort?.postMessage({ id: msg.id, outcomes: packed }, transfer);
});
parentPort?.postMessage({ ready: true });
