import type { Command } from 'commander';
import { closeOnSignals } from '../server/index.js';
import { runDemo } from '../demo/run.js';
import type { RegistryChoice } from '../demo/registry/index.js';
import { cliIo } from './io.js';
import { CliError } from './output.js';

export function register(program: Command): void {
  program
    .command('demo')
    .description(
      'start the whole stack on loopback, sign images in a simulated CI job, and admit or deny four pods',
    )
    .option(
      '--data-dir <dir>',
      'keep the stack data here (default: a temporary directory, removed afterwards)',
    )
    .option(
      '--embedded-registry',
      "use sigil's embedded OCI registry even when Debian's docker-registry is installed",
    )
    .option('--docker-registry', "require Debian's docker-registry (/usr/bin/docker-registry)")
    .option(
      '--keep-running',
      'leave the stack running after the demo (browse the log explorer; Ctrl-C stops it)',
    )
    .action(
      async (o: {
        dataDir?: string;
        embeddedRegistry?: boolean;
        dockerRegistry?: boolean;
        keepRunning?: boolean;
      }) => {
        if (o.embeddedRegistry && o.dockerRegistry)
          throw new CliError('--embedded-registry and --docker-registry exclude each other');
        const registry: RegistryChoice = o.embeddedRegistry
          ? 'embedded'
          : o.dockerRegistry
            ? 'docker-registry'
            : 'auto';
        const { main } = await import('./main.js');
        const result = await runDemo({
          registry,
          cli: main,
          write: (t) => void cliIo().stdout.write(t),
          ...(o.dataDir ? { dataDir: o.dataDir } : {}),
          keepRunning: o.keepRunning === true,
        });
        if (!result.ok) process.exitCode = 1;
        if (o.keepRunning) closeOnSignals(result.close);
      },
    );
}
