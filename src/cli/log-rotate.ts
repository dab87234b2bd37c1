import type { Command } from 'commander';
import { SigilError } from '../errors/index.js';
import { rotateLog } from '../log/shards/rotate.js';
import { CliError, printJson } from './output.js';
import { cliIo } from './io.js';

/** `sigil log rotate --data-dir DIR`: freeze the active tree and start a new shard (server stopped). */
export function registerRotate(log: Command): void {
  log
    .command('rotate')
    .description(
      'freeze the active tree at its last signed tree head and start a new tree (stop `sigil log serve` first)',
    )
    .option('--data-dir <dir>', 'the log data directory', '.sigil')
    .option('--json', 'print JSON')
    .action(async (o: { dataDir: string; json?: boolean }) => {
      const r = await rotateLog(o.dataDir).catch((e: unknown) => {
        if (e instanceof SigilError && e.code === 'LOCKED') {
          throw new CliError(
            `the log in ${o.dataDir} is in use`,
            'stop `sigil log serve` on this data directory, then rotate',
          );
        }
        throw e;
      });
      if (o.json) return printJson(r);
      cliIo().stdout.write(
        `Froze tree ${r.frozen.treeId} at size ${r.frozen.size} (root ${r.frozen.rootHash})\n` +
          `New active tree ${r.active.treeId}: its entries take global log indexes from ${r.activeOffset}\n`,
      );
    });
}
