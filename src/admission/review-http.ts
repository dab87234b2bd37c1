import type { IncomingMessage, ServerResponse } from 'node:http';
import { httpStatusFor, isSigilError } from '../errors/index.js';
import { parseJsonBounded } from '../server/json-depth.js';
import { readBody, sendJson } from '../server/raw-http.js';
import type { Decision } from './decision.js';
import type { DecisionLog, DecisionOutcome } from './decision-log.js';
import type { AdmissionEngine, Mode } from './engine.js';
import type { AdmissionMetrics } from './metrics.js';
import { admissionResponse, parseAdmissionReview, type ParsedReview } from './review.js';

/**
 * POST /validate and /mutate on plain node:http(s), outside Fastify's request pipeline: read the
 * body (bounded), parse, decide, count, log one line, answer in one write. Same contract as the
 * other sigil servers: bad input is a 4xx JSON `{code, message}` (415 not JSON, 413 too large,
 * 400 malformed), never a 5xx; an unexpected fault is a 500 without details.
 */
export interface ReviewHttpOptions {
  engine: AdmissionEngine;
  metrics: AdmissionMetrics;
  log: DecisionLog | undefined;
  bodyLimit: number;
}

export type ReviewHandler = (req: IncomingMessage, res: ServerResponse, mode: Mode) => void;

/** `/validate` or `/mutate` (a query such as the API server's `?timeout=10s` allowed), else undefined. */
export function reviewMode(method: string | undefined, url: string | undefined): Mode | undefined {
  if (method !== 'POST' || url === undefined) return undefined;
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  return path === '/validate' ? 'validate' : path === '/mutate' ? 'mutate' : undefined;
}

function isJson(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const semi = contentType.indexOf(';');
  const type = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  return type === 'application/json' || type === 'text/json';
}

function outcomeOf(d: Decision): DecisionOutcome {
  if (d.skippedBecause) return 'skipped';
  if (!d.allowed) return 'denied';
  return d.warnings.length > 0 ? 'warned' : 'allowed';
}

export function createReviewHandler(o: ReviewHttpOptions): ReviewHandler {
  const { engine, metrics, log, bodyLimit } = o;
  let seq = 0;
  // prom-client children resolved once per label set, not per request.
  const counters = new Map<string, { inc(): void }>();
  const count = (endpoint: Mode, outcome: string): void => {
    const key = `${endpoint}|${outcome}`;
    let c = counters.get(key);
    if (!c) counters.set(key, (c = metrics.decisions.labels({ endpoint, outcome })));
    c.inc();
  };
  const latency = {
    validate: metrics.latency.labels({ endpoint: 'validate' }),
    mutate: metrics.latency.labels({ endpoint: 'mutate' }),
  };
  const msSince = (t: number): number => Math.round((performance.now() - t) * 10) / 10;

  const answerRefusal = (
    res: ServerResponse,
    mode: Mode,
    reqId: number,
    started: number,
    r: { status: number; code: string; message: string; unread: boolean; detail?: string },
  ): void => {
    const outcome: DecisionOutcome = r.status < 500 ? 'malformed' : 'error';
    count(mode, outcome);
    const error = { code: r.code, message: r.message, ...(r.detail ? { detail: r.detail } : {}) };
    log?.write({ endpoint: mode, reqId, outcome, ms: msSince(started), error });
    sendJson(res, r.status, JSON.stringify({ code: r.code, message: r.message }), undefined, r.unread);
  };
  const refuse = (res: ServerResponse, mode: Mode, reqId: number, started: number, e: unknown): void => {
    const known = isSigilError(e);
    answerRefusal(res, mode, reqId, started, {
      status: known ? httpStatusFor(e.code) : 500,
      code: known ? e.code : 'INTERNAL',
      message: known ? e.message : 'internal error',
      unread: known && e.code === 'TOO_LARGE',
      // Logged, never sent: what went wrong inside.
      ...(known ? {} : { detail: e instanceof Error ? e.message : String(e) }),
    });
  };

  const decide = async (parsed: ParsedReview, mode: Mode): Promise<Decision> => {
    const { input } = parsed;
    try {
      return await engine.evaluate(input, mode);
    } catch (e) {
      // The object itself is unusable (not a pod spec, too many images): deny, never 5xx.
      if (!isSigilError(e, 'INVALID_INPUT')) throw e;
      return {
        allowed: false,
        message: `resource ${input.kind}/${input.namespace}/${input.name} was refused: ${e.message}`,
        warnings: [],
        patch: [],
        results: [],
      };
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, mode: Mode): Promise<void> => {
    const started = performance.now();
    const reqId = ++seq;
    let parsed: ParsedReview;
    if (!isJson(req.headers['content-type'])) {
      answerRefusal(res, mode, reqId, started, {
        status: 415,
        code: 'INVALID_INPUT',
        message: 'unsupported content type: send application/json',
        unread: true,
      });
      return;
    }
    try {
      const text = await readBody(req, bodyLimit);
      parsed = parseAdmissionReview(text === '' ? undefined : parseJsonBounded(text));
    } catch (e) {
      refuse(res, mode, reqId, started, e);
      return;
    }
    let decision: Decision;
    try {
      decision = await decide(parsed, mode);
    } catch (e) {
      refuse(res, mode, reqId, started, e);
      return;
    }
    const ms = msSince(started);
    const outcome = outcomeOf(decision);
    count(mode, outcome);
    latency[mode].observe(ms / 1000);
    log?.write({ endpoint: mode, reqId, uid: parsed.uid, input: parsed.input, outcome, ms, decision });
    sendJson(res, 200, JSON.stringify(admissionResponse(parsed.uid, decision)));
  };

  return (req, res, mode) => void handle(req, res, mode);
}
