import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { fetchTrustedRoot } from '../ca/client.js';
import { CliError, printJson } from './output.js';

export function register(program: Command): void {
  program
    .command('trusted-root')
    .description('print a trusted_root.json for a sigil CA (with its CT log), transparency log and TSAs')
    .requiredOption('--ca-url <url>', 'CA base URL')
    .requiredOption('--log-url <url>', 'transparency log base URL')
    .option('--ct-url <url>', 'CT log base URL to record (default <ca-url>/ct)')
    .option(
      '--tsa-url <url>',
      'full RFC 3161 timestamp URL of a TSA to list (its chain is read from URL/certchain; repeatable)',
      (v: string, acc: string[]) => [...acc, v],
      [],
    )
    .option('--valid-from <rfc3339>', 'start of the validity windows (default: the CA root notBefore)')
    .option('--output <file>', 'write to a file instead of stdout')
    .action(
      async (o: {
        caUrl: string;
        logUrl: string;
        ctUrl?: string;
        tsaUrl: string[];
        validFrom?: string;
        output?: string;
      }) => {
        let validFrom: Date | undefined;
        if (o.validFrom !== undefined) {
          validFrom = new Date(o.validFrom);
          if (Number.isNaN(validFrom.getTime()))
            throw new CliError(`invalid --valid-from ${o.validFrom}`, 'use RFC 3339');
        }
        const root = await fetchTrustedRoot({
          caUrl: o.caUrl,
          logUrl: o.logUrl,
          ...(o.ctUrl ? { ctUrl: o.ctUrl } : {}),
          tsaUrls: o.tsaUrl,
          ...(validFrom ? { validFrom } : {}),
        });
        if (o.output) writeFileSync(o.output, `${JSON.stringify(root, null, 2)}\n`);
        else printJson(root);
      },
    );
}
