import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { createCaServer, DEFAULT_CA_PORT } from '../ca/server.js';
import { parseOidcConfig } from '../oidc/config.js';
import { closeOnSignals } from '../server/index.js';
import { CliError } from './output.js';
import { cliIo } from './io.js';
import { parsePort, readTlsFlags, withListenFlags, withTlsFlags } from './flags.js';

export function register(program: Command): void {
  const ca = program.command('ca').description('the certificate authority (Fulcio v2 API) with its CT log');
  withListenFlags(withTlsFlags(ca.command('serve')), {
    port: DEFAULT_CA_PORT,
    dataDir: '.sigil',
    dataDirHelp: 'CA keys, certificates and the CT log',
  })
    .description('serve /api/v2/signingCert, trustBundle, configuration and the CT log under /ct/v1/')
    .requiredOption('--oidc-issuers <file>', 'YAML list of trusted OIDC issuers')
    .option('--curve <curve>', 'curve of a new root and intermediate: P-256 or P-384', 'P-256')
    .option('--ct-disable', 'issue without the CT log (no embedded SCT)')
    .action(async (o: Record<string, string | boolean | undefined>) => {
      if (o.curve !== 'P-256' && o.curve !== 'P-384')
        throw new CliError(`unsupported --curve ${String(o.curve)}`, 'use P-256 or P-384');
      let text: string;
      try {
        text = readFileSync(o.oidcIssuers as string, 'utf8');
      } catch {
        throw new CliError(
          `cannot read ${String(o.oidcIssuers)}`,
          'pass a YAML file listing issuers (issuerUrl, type)',
        );
      }
      const tls = readTlsFlags(o);
      const server = await createCaServer({
        dataDir: o.dataDir as string,
        host: o.host as string,
        port: parsePort(o.port as string),
        oidc: parseOidcConfig(text),
        curve: o.curve,
        disableCt: o.ctDisable === true,
        ...(tls ? { tls } : {}),
      });
      cliIo().stdout.write(
        `sigil ca: listening on ${server.url}${server.ct ? ' (CT log at /ct/v1/)' : ''}\n`,
      );
      closeOnSignals(() => server.close());
    });
}
