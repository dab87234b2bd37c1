import type { Command } from 'commander';
import { isSigilError } from '../errors/index.js';
import { writeKeyPair } from '../sign/index.js';
import { CliError } from './output.js';
import { cliIo } from './io.js';
import { readPassword } from './sign.js';

export function register(program: Command): void {
  program
    .command('generate-key-pair')
    .description(
      'write an encrypted P-256 signing key (PREFIX.key, PKCS#8, mode 0600) and its public key (PREFIX.pub)',
    )
    .option('--output-key-prefix <prefix>', 'file name prefix', 'cosign')
    .action(async (o: { outputKeyPrefix: string }) => {
      const password = await readPassword('Enter password for private key: ');
      if (cliIo().env.SIGIL_PASSWORD === undefined) {
        const again = await readPassword('Enter password for private key again: ');
        if (again !== password) throw new CliError('passwords do not match');
      }
      if (password === '')
        cliIo().stderr.write('sigil: warning: the private key is encrypted with an empty password\n');
      try {
        const files = writeKeyPair(o.outputKeyPrefix, password);
        cliIo().stderr.write(
          `Private key written to ${files.privateKeyPath}\nPublic key written to ${files.publicKeyPath}\n`,
        );
      } catch (e) {
        if (isSigilError(e))
          throw new CliError(e.message, 'choose another --output-key-prefix or remove the old files');
        throw e;
      }
    });
}
