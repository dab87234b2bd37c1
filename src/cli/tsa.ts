import type { Command } from 'commander';
import { closeOnSignals } from '../server/index.js';
import { startTsaCluster } from '../tsa/cluster.js';
import { createTsaServer, DEFAULT_TSA_PORT } from '../tsa/server.js';
import { CliError } from './output.js';
import { cliIo } from './io.js';
import { intFlag, parsePort, readTlsFlags, withListenFlags, withTlsFlags } from './flags.js';

const OID = /^[0-2](\.\d{1,9}){1,30}$/;

export function register(program: Command): void {
  const tsa = program.command('tsa').description('the RFC 3161 timestamp authority');
  withListenFlags(withTlsFlags(tsa.command('serve')), {
    port: DEFAULT_TSA_PORT,
    dataDir: '.sigil/tsa',
    dataDirHelp: 'TSA key, certificate chain and serial high-water mark',
  })
    .description('serve POST /api/v1/timestamp (DER or JSON request) and GET /api/v1/timestamp/certchain')
    .option(
      '--key-file <file>',
      'PEM TSA signing key (with --chain-file; else the data dir key, made on first start)',
    )
    .option('--chain-file <file>', 'PEM chain of --key-file, leaf (critical timeStamping EKU) first')
    .option('--policy <oid>', 'policy OID of every token (default 1.3.6.1.4.1.57264.2)')
    .option('--accuracy-ms <n>', 'stated accuracy of genTime in milliseconds', '1000')
    .option('--workers <n>', 'processes answering on the port (serials leased from the first)', '1')
    .action(async (o: Record<string, string | undefined>) => {
      if (o.policy !== undefined && !OID.test(o.policy))
        throw new CliError(`invalid --policy ${o.policy}`, 'use a dotted OID such as 1.3.6.1.4.1.57264.2');
      const accuracyMs = Number(o.accuracyMs);
      if (!Number.isInteger(accuracyMs) || accuracyMs < 1 || accuracyMs > 3_600_000)
        throw new CliError(
          `invalid --accuracy-ms ${o.accuracyMs}`,
          'use a whole number of milliseconds, 1–3600000',
        );
      if ((o.keyFile === undefined) !== (o.chainFile === undefined))
        throw new CliError(
          '--key-file and --chain-file go together',
          'pass both files, or neither to use the data dir',
        );
      const workers = intFlag(o.workers, '--workers', 1, 64);
      const tls = readTlsFlags(o);
      const config = {
        dataDir: o.dataDir!,
        host: o.host!,
        port: parsePort(o.port),
        accuracyMs,
        ...(o.keyFile && o.chainFile ? { keyFile: o.keyFile, chainFile: o.chainFile } : {}),
        ...(o.policy ? { policy: o.policy } : {}),
        ...(tls ? { tls } : {}),
      };
      const server = workers > 1 ? await startTsaCluster(config, workers) : await createTsaServer(config);
      const where = workers > 1 ? ` in ${workers} worker processes` : '';
      cliIo().stdout.write(
        `sigil tsa: listening on ${server.url} (timestamps at ${server.timestampUrl})${where}\n`,
      );
      closeOnSignals(() => server.close());
    });
}
