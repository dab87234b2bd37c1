import { packBytes, unpackBytes, type PackedBytes } from '../log/store/packed.js';
import type { LoggedEntry } from './request.js';

/** A request's result as the pool hands it back: the logged entry, or the error to answer. */
export type Outcome =
  { ok: true; kind: LoggedEntry['kind']; body: Buffer } | { ok: false; code: string; message: string };

/**
 * A worker's answer to one message, by column: per request a kind code (0: refused, see
 * `errors`), the logged bodies packed in one transferred buffer (empty for a refused request),
 * and the refusals. A structured clone of one object with its own Uint8Array per request cost
 * both threads about five times as much.
 */
export interface PackedOutcomes {
  kinds: Uint8Array;
  bodies: PackedBytes;
  errors: { i: number; code: string; message: string }[];
}

const KINDS: readonly LoggedEntry['kind'][] = ['hashedrekord', 'dsse'];
const EMPTY = new Uint8Array(0);

export function packOutcomes(
  results: readonly ({ kind: LoggedEntry['kind']; body: Uint8Array } | { code: string; message: string })[],
): { packed: PackedOutcomes; transfer: ArrayBuffer[] } {
  const kinds = new Uint8Array(results.length);
  const errors: PackedOutcomes['errors'] = [];
  const bodies = results.map((r, i) => {
    if ('body' in r) {
      kinds[i] = KINDS.indexOf(r.kind) + 1;
      return r.body;
    }
    errors.push({ i, code: r.code, message: r.message });
    return EMPTY;
  });
  const packed = { kinds, bodies: packBytes(bodies), errors };
  return { packed, transfer: [packed.bodies.bytes, packed.bodies.lengths.buffer as ArrayBuffer] };
}

export function unpackOutcomes(p: PackedOutcomes): Outcome[] {
  const bodies = unpackBytes(p.bodies);
  const out: Outcome[] = [];
  for (let i = 0; i < p.kinds.length; i++) {
    const kind = KINDS[p.kinds[i]! - 1];
    out.push(
      kind !== undefined
        ? { ok: true, kind, body: bodies[i]! }
        : { ok: false, code: 'INTERNAL', message: 'no answer for the request' },
    );
  }
  for (const e of p.errors) out[e.i] = { ok: false, code: e.code, message: e.message };
  return out;
}
