import { writeSync } from 'node:fs';
import type { Decision } from './decision.js';
import type { AdmissionInput } from './engine.js';

/** Where decision lines go: anything with a synchronous `write` of one string. */
export interface LineSink {
  write(line: string): unknown;
}

/**
 * Lines to a file descriptor with one write(2) each, synchronously; a full non-blocking pipe
 * (EAGAIN) is waited out, never dropped.
 */
export class FdSink implements LineSink {
  private readonly pause = new Int32Array(new SharedArrayBuffer(4));
  constructor(private readonly fd: number) {}

  write(line: string): void {
    const buf = Buffer.from(line, 'utf8');
    for (let off = 0; off < buf.length;) {
      try {
        off += writeSync(this.fd, buf, off);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        Atomics.wait(this.pause, 0, 0, 1);
      }
    }
  }
}

/** pino's numeric levels: a decision is logged at info (30), like every other sigil line. */
const LEVELS: Readonly<Record<string, number>> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Infinity,
};
const INFO = 30;

export type DecisionOutcome = 'allowed' | 'denied' | 'warned' | 'skipped' | 'malformed' | 'error';

export interface DecisionRecord {
  endpoint: string;
  reqId: number;
  uid?: string;
  input?: AdmissionInput;
  outcome: DecisionOutcome;
  ms: number;
  decision?: Decision;
  /** Why a request was refused before any decision (malformed, too large). */
  error?: { code: string; message: string; detail?: string };
}

/**
 * One JSON line per admission answer, in pino's shape (`level`, `time`, `pid`, fields, `msg`),
 * written synchronously before the answer leaves: every decision is on record by the time the
 * API server hears it, even if the process dies the next instant. No pino logger is involved:
 * the line is one JSON.stringify of a flat object, written in one write(2) (FdSink on stdout).
 */
export class DecisionLog {
  private constructor(private readonly sink: LineSink) {}

  /** A log at `level` on `sink` (default stdout); undefined when the level hides info lines. */
  static create(level: string, sink?: LineSink): DecisionLog | undefined {
    const threshold = LEVELS[level] ?? INFO;
    if (threshold > INFO) return undefined;
    return new DecisionLog(sink ?? new FdSink(1));
  }

  write(r: DecisionRecord): void {
    const d = r.decision;
    const line = {
      level: INFO,
      time: Date.now(),
      pid: process.pid,
      event: 'admission.decision',
      endpoint: r.endpoint,
      reqId: r.reqId,
      uid: r.uid,
      kind: r.input?.kind,
      namespace: r.input?.namespace,
      name: r.input?.name,
      operation: r.input?.operation,
      allowed: d ? d.allowed : false,
      outcome: r.outcome,
      patches: d ? d.patch.length : 0,
      ms: r.ms,
      results: d?.results.map((x) => ({
        policy: x.policy,
        rule: x.rule,
        image: x.image,
        status: x.status,
        digest: x.digest,
        cached: x.cached,
        message: x.status === 'pass' ? undefined : x.message,
      })),
      ...(d?.ivpResults
        ? {
            imageValidatingPolicies: d.ivpResults.map((x) => ({
              policy: x.policy,
              status: x.status,
              images: x.images,
              message: x.status === 'pass' ? undefined : x.message,
              auditAnnotations: Object.keys(x.auditAnnotations).length > 0 ? x.auditAnnotations : undefined,
            })),
          }
        : {}),
      skipped: d?.skippedBecause,
      error: r.error,
      msg: 'admission decision',
    };
    this.sink.write(`${JSON.stringify(line)}\n`);
  }

  /** Flushes what the sink may hold (FdSink holds nothing; kept for other sinks). */
  flush(): void {
    const s = this.sink as { flushSync?: () => void };
    try {
      s.flushSync?.();
    } catch {
      // nothing buffered, or stdout already gone
    }
  }
}
