import { toSigilError } from '../errors/index.js';
import { parseArgs } from './args.js';
import { loadTimestampSupport } from '../verify/index.js';
import { conformanceVerify } from './verify.js';
import { conformanceSign } from './sign.js';

export interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

const processIo: Io = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
};

/**
 * The conformance entrypoint: exit 0 when the command succeeded; otherwise one line
 * `sigil: error: MESSAGE (CODE)` on stderr and exit 1, the CODE naming the failed check.
 */
export async function conformanceMain(argv: readonly string[], io: Io = processIo): Promise<number> {
  try {
    const args = parseArgs(argv);
    if (args.command === 'verify-bundle') {
      await loadTimestampSupport();
      const result = conformanceVerify(args);
      io.stderr('Verified OK\n');
      io.stdout(`${JSON.stringify(result)}\n`);
    } else {
      await conformanceSign(args);
    }
    return 0;
  } catch (e) {
    const err = toSigilError(e);
    io.stderr(`sigil: error: ${err.message.replace(/\s*\n\s*/g, ' ').trim()} (${err.code})\n`);
    return 1;
  }
}
