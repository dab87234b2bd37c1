import { SigilError } from '../errors/index.js';
import { fetchBounded } from '../http/index.js';
import { RekorClient } from '../rekor/client.js';
import { compileLinearRegExp } from '../verify/linear-regex.js';
import { checkLog, type Alert } from './check.js';
import { loadState, saveState } from './state.js';

export const MAX_IDENTITY_REGEX = 256;
const WEBHOOK_TIMEOUT_MS = 10_000;
/** The webhook's answer is read and dropped; past this it is cut off. */
const MAX_WEBHOOK_ANSWER_BYTES = 64 * 1024;

export interface MonitorConfig {
  logUrl: string;
  statePath: string;
  identity?: RegExp;
  webhook?: string;
  /** Where alert lines go (stderr in the CLI). */
  report(line: string): void;
}

export interface RoundResult {
  alerts: Alert[];
  /** False on a fork, rollback or bad signature. */
  consistent: boolean;
  size: number;
}

/** Posts one alert as JSON to the webhook; a failing webhook is reported, never fatal. */
async function notify(
  webhook: string,
  logUrl: string,
  alert: Alert,
  report: (line: string) => void,
): Promise<void> {
  try {
    const res = await fetchBounded(webhook, {
      timeoutMs: WEBHOOK_TIMEOUT_MS,
      maxBytes: MAX_WEBHOOK_ANSWER_BYTES,
      what: 'the webhook',
      init: {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ logUrl, ...alert }),
      },
    });
    if (res.status < 200 || res.status > 299) report(`sigil: warning: webhook answered ${res.status}`);
  } catch (e) {
    report(`sigil: warning: webhook failed: ${(e as Error).message}`);
  }
}

/** One round: check, report each alert on one line (and to the webhook), save the state if the log behaved. */
export async function monitorOnce(cfg: MonitorConfig): Promise<RoundResult> {
  const client = new RekorClient(cfg.logUrl);
  const state = loadState(cfg.statePath);
  const r = await checkLog({ client, state, ...(cfg.identity ? { identity: cfg.identity } : {}) });
  for (const a of r.alerts) {
    cfg.report(`sigil: alert: ${a.kind}: ${a.message}`);
    if (cfg.webhook) await notify(cfg.webhook, cfg.logUrl, a, cfg.report);
  }
  if (r.consistent) saveState(cfg.statePath, r.state);
  return { alerts: r.alerts, consistent: r.consistent, size: r.state.size };
}

/**
 * The identity pattern, case-insensitive, through the verifier's linear-time compiler: subjects
 * come from log entries anyone may write, so matching must not backtrack.
 */
export function compileIdentity(source: string): RegExp {
  if (source.length === 0 || source.length > MAX_IDENTITY_REGEX) {
    throw new SigilError('INVALID_INPUT', `--identity must be 1–${MAX_IDENTITY_REGEX} characters`);
  }
  try {
    return compileLinearRegExp(source, { ignoreCase: true });
  } catch (e) {
    throw new SigilError('INVALID_INPUT', `--identity is not a regular expression: ${(e as Error).message}`);
  }
}
