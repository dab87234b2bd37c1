import type { Command } from 'commander';
import { SigilError } from '../errors/index.js';
import { compileIdentity, monitorOnce, type MonitorConfig } from '../monitor/index.js';
import { CliError } from './output.js';
import { cliIo } from './io.js';

export const DEFAULT_MONITOR_INTERVAL_S = 60;

function checkHttpUrl(v: string, flag: string): void {
  let ok = false;
  try {
    const u = new URL(v);
    ok = u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    ok = false;
  }
  if (!ok) throw new CliError(`${flag} ${JSON.stringify(v)} is not an http(s) URL`);
}

/**
 * `sigil monitor`: follows a log's checkpoints and alerts on a fork or rollback (exit 1) and,
 * with --identity, on new entries for matching certificate identities (exit 3 with --once).
 */
export function register(program: Command): void {
  program
    .command('monitor')
    .description(
      'watch a transparency log: verify each checkpoint and its consistency with the last one seen; alert on forks, rollbacks and watched identities',
    )
    .requiredOption('--log-url <url>', 'log base URL')
    .requiredOption('--state <file>', 'state file (pins the log key on the first run)')
    .option('--identity <regex>', 'alert on new entries whose certificate SAN matches (case-insensitive)')
    .option('--webhook <url>', 'POST each alert as JSON here')
    .option('--once', 'check once and exit (0 quiet, 1 fork/rollback, 3 identity alerts)')
    .option('--interval <seconds>', 'seconds between checks', String(DEFAULT_MONITOR_INTERVAL_S))
    .action(
      async (o: {
        logUrl: string;
        state: string;
        identity?: string;
        webhook?: string;
        once?: boolean;
        interval: string;
      }) => {
        checkHttpUrl(o.logUrl, '--log-url');
        if (o.webhook !== undefined) checkHttpUrl(o.webhook, '--webhook');
        const interval = Number(o.interval);
        if (!/^[0-9]+$/.test(o.interval) || interval < 1 || interval > 86_400) {
          throw new CliError(
            `invalid --interval ${JSON.stringify(o.interval)}`,
            'use whole seconds from 1 to 86400',
          );
        }
        let identity: RegExp | undefined;
        try {
          identity = o.identity === undefined ? undefined : compileIdentity(o.identity);
        } catch (e) {
          throw new CliError((e as Error).message);
        }
        const cfg: MonitorConfig = {
          logUrl: o.logUrl,
          statePath: o.state,
          ...(identity ? { identity } : {}),
          ...(o.webhook ? { webhook: o.webhook } : {}),
          report: (line) => cliIo().stderr.write(`${line}\n`),
        };
        for (;;) {
          let round;
          try {
            round = await monitorOnce(cfg);
          } catch (e) {
            if (
              o.once ||
              !(e instanceof SigilError && ['UNAVAILABLE', 'UPSTREAM_ERROR', 'TIMEOUT'].includes(e.code))
            )
              throw e;
            cliIo().stderr.write(`sigil: warning: ${e.message}\n`);
            round = undefined;
          }
          if (round && !round.consistent) {
            process.exitCode = 1;
            return;
          }
          if (o.once) {
            if (round && round.alerts.length > 0) process.exitCode = 3;
            return;
          }
          await new Promise((r) => setTimeout(r, interval * 1000));
        }
      },
    );
}
