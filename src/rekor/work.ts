import { toSigilError } from '../errors/index.js';
import { leafHash } from '../merkle/index.js';
import { parseJsonBounded } from '../server/json-depth.js';
import { canonicalizeProposedEntry, VerifierCache } from './kinds/index.js';

/**
 * The CPU-heavy part of the Rekor personality, shared by the worker threads and the inline
 * (single-thread) mode: parse + validate + verify + canonicalize a proposed entry. Messages carry
 * only plain data so they cross worker boundaries unchanged.
 */
export interface Task {
  t: 'entry';
  json: string;
}

export type EntryOutcome =
  | {
      ok: true;
      kind: string;
      apiVersion: string;
      body: Uint8Array;
      leafHash: Uint8Array;
      indexKeys: string[];
    }
  | { ok: false; code: string; message: string };

export class Work {
  private readonly keys = new VerifierCache(8192);

  run(task: Task): EntryOutcome {
    return this.entry(task.json);
  }

  private entry(json: string): EntryOutcome {
    try {
      const c = canonicalizeProposedEntry(parseJsonBounded(json), this.keys);
      // Exact-size copies: postMessage clones a view's whole backing buffer (8 KiB for a pooled Buffer).
      return {
        ok: true,
        kind: c.kind,
        apiVersion: c.apiVersion,
        body: new Uint8Array(c.body),
        leafHash: new Uint8Array(leafHash(c.body)),
        indexKeys: c.indexKeys,
      };
    } catch (e) {
      // A non-SigilError here comes from a parser choking on the input: the entry's fault (400).
      const err = toSigilError(e, 'INVALID_ENTRY');
      return { ok: false, code: err.code, message: err.message };
    }
  }
}
