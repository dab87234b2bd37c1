import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import {
  buildSigningConfig,
  signingConfigToJson,
  type ServiceConfiguration,
} from '../signing-config/config.js';
import { checkUrl } from './flags.js';
import { CliError, printJson } from './output.js';

const collect = (v: string, acc: string[]): string[] => [...acc, v];

function selector(v: string | undefined, count: string | undefined, flag: string): ServiceConfiguration {
  const s = (v ?? 'ANY').toUpperCase();
  if (s === 'ALL' || s === 'ANY') return { selector: s };
  if (s !== 'EXACT') throw new CliError(`invalid ${flag} ${v}`, 'use ALL, ANY or EXACT');
  const n = Number(count);
  if (!Number.isInteger(n) || n < 1 || n > 32)
    throw new CliError(`${flag} EXACT needs a count 1–32`, `pass ${flag}-count N`);
  return { selector: 'EXACT', count: n };
}

export function register(program: Command): void {
  program
    .command('signing-config')
    .description('print a SigningConfig v0.2 (signing_config.json) for the given service URLs')
    .option('--ca-url <url>', 'CA base URL')
    .option('--oidc-url <url>', 'OIDC issuer URL')
    .option('--rekor-url <url>', 'Rekor v1 log base URL (repeatable)', collect, [])
    .option(
      '--rekor-v2-url <url>',
      'Rekor v2 log base URL, listed with majorApiVersion 2 (repeatable)',
      collect,
      [],
    )
    .option('--tsa-url <url>', 'full RFC 3161 timestamp URL (repeatable)', collect, [])
    .option('--operator <name>', 'operator of these services (a scheme-less URI)', 'sigil')
    .option('--valid-from <rfc3339>', 'start of the validity windows (default: now)')
    .option('--rekor-selector <s>', 'ALL, ANY or EXACT', 'ANY')
    .option('--rekor-selector-count <n>', 'count for EXACT')
    .option('--tsa-selector <s>', 'ALL, ANY or EXACT', 'ANY')
    .option('--tsa-selector-count <n>', 'count for EXACT')
    .option('--output <file>', 'write to a file instead of stdout')
    .action(
      (o: {
        caUrl?: string;
        oidcUrl?: string;
        rekorUrl: string[];
        rekorV2Url: string[];
        tsaUrl: string[];
        operator: string;
        validFrom?: string;
        rekorSelector?: string;
        rekorSelectorCount?: string;
        tsaSelector?: string;
        tsaSelectorCount?: string;
        output?: string;
      }) => {
        const validFrom = o.validFrom === undefined ? new Date() : new Date(o.validFrom);
        if (Number.isNaN(validFrom.getTime()))
          throw new CliError(`invalid --valid-from ${o.validFrom}`, 'use RFC 3339');
        const config = buildSigningConfig({
          ...(o.caUrl ? { caUrl: checkUrl(o.caUrl, '--ca-url') } : {}),
          ...(o.oidcUrl ? { oidcUrl: checkUrl(o.oidcUrl, '--oidc-url') } : {}),
          rekorUrls: o.rekorUrl.map((u) => checkUrl(u, '--rekor-url')),
          rekorV2Urls: o.rekorV2Url.map((u) => checkUrl(u, '--rekor-v2-url')),
          tsaUrls: o.tsaUrl.map((u) => checkUrl(u, '--tsa-url')),
          operator: o.operator,
          validFrom,
          rekorSelector: selector(o.rekorSelector, o.rekorSelectorCount, '--rekor-selector'),
          tsaSelector: selector(o.tsaSelector, o.tsaSelectorCount, '--tsa-selector'),
        });
        const json = signingConfigToJson(config);
        if (o.output) writeFileSync(o.output, `${JSON.stringify(json, null, 2)}\n`);
        else printJson(json);
      },
    );
}
