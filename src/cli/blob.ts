import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { isSigilError } from '../errors/index.js';
import { toPem } from '../crypto/index.js';
import { parseBundle, serializeBundle, type Bundle } from '../bundle/index.js';
import { loadTimestampSupport, verifyBundle, type VerificationResult } from '../verify/index.js';
import { fileOrDigest } from './file-or-digest.js';
import { cliIo } from './io.js';
import { readFileFlag } from './flags.js';
import { CliError, printJson } from './output.js';
import { confirmUpload, progress, signingConfig, withSigningFlags, type SigningFlags } from './sign.js';
import { loadTrust, policyFromFlags, verifyOptions, withVerifyFlags, type VerifyFlags } from './verify.js';

export const MAX_BLOB_BYTES = 1024 * 1024 * 1024;
export const MAX_BUNDLE_FILE_BYTES = 32 * 1024 * 1024;

function write(path: string, text: string | Buffer, what: string): void {
  try {
    writeFileSync(path, text);
  } catch (e) {
    throw new CliError(
      `cannot write ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
}

/**
 * `sigil verify-blob` without the printing: FILE is required for message signatures; for a DSSE
 * bundle it is optional (the envelope, log entries, chain and identity are verified either way)
 * and, when given, its sha256 or sha512 must be a subject of the in-toto statement.
 */
export async function verifyBlob(
  file: string | undefined,
  f: VerifyFlags & { bundle: string },
): Promise<VerificationResult> {
  const policy = policyFromFlags(f);
  const options = verifyOptions(f);
  const trust = loadTrust(f);
  let bundle: Bundle;
  try {
    bundle = parseBundle(readFileFlag(f.bundle, 'bundle', MAX_BUNDLE_FILE_BYTES));
  } catch (e) {
    if (isSigilError(e)) throw new CliError(`invalid bundle ${f.bundle}: ${e.message}`);
    throw e;
  }
  if (file === undefined && bundle.content.kind === 'messageSignature') {
    throw new CliError(
      'a message-signature bundle needs the signed FILE',
      'sigil verify-blob FILE --bundle BUNDLE …',
    );
  }
  await loadTimestampSupport(bundle);
  const input = file === undefined ? undefined : fileOrDigest(file);
  if (input?.kind === 'digest')
    return verifyBundle(trust, bundle, policy, {
      ...options,
      artifactDigest: { algorithm: 'SHA2_256', digest: input.digest },
    });
  const artifact = input === undefined ? undefined : readFileFlag(input.path, 'file', MAX_BLOB_BYTES);
  return verifyBundle(trust, bundle, policy, { ...options, ...(artifact ? { artifact } : {}) });
}

export function register(program: Command): void {
  withSigningFlags(
    program
      .command('sign-blob')
      .description('sign a file; writes a Sigstore bundle (v0.3) and prints the base64 signature')
      .argument('<file>', 'the file to sign')
      .option('--bundle <file>', 'write the Sigstore bundle (v0.3 JSON) here')
      .option('--output-signature <file>', 'write the base64 signature here')
      .option('--output-certificate <file>', 'write the PEM signing certificate here (keyless)'),
  ).action(
    async (
      file: string,
      f: SigningFlags & { bundle?: string; outputSignature?: string; outputCertificate?: string },
    ) => {
      const data = readFileFlag(file, 'file', MAX_BLOB_BYTES);
      const config = await signingConfig(f);
      await confirmUpload(f.yes, config.logUrl!);
      const { createSigning } = await import('../sign/factory.js');
      const { builder } = createSigning(config);
      const signed = await builder.message(data);
      const sigB64 = signed.signature.signature.toString('base64');
      if (f.bundle) {
        write(f.bundle, serializeBundle(signed.bundle), 'bundle');
        progress(`Wrote bundle to file ${f.bundle}`);
      }
      if (f.outputSignature) write(f.outputSignature, sigB64, 'signature');
      const m = signed.signature.material;
      if (f.outputCertificate && m.kind === 'certificate')
        write(f.outputCertificate, toPem('CERTIFICATE', m.leaf), 'certificate');
      cliIo().stdout.write(`${sigB64}\n`);
    },
  );

  withVerifyFlags(
    program
      .command('verify-blob')
      .description(
        'verify a Sigstore bundle (v0.1–v0.3) for a file; for a DSSE bundle FILE is optional and, when given, must be a subject of the in-toto statement',
      )
      .argument('[file]', 'the signed file, or sha256:<hex> (its digest) when it is not at hand')
      .requiredOption('--bundle <file>', 'the Sigstore bundle')
      .option('--json', 'print the verification result as one indented JSON document (docs/CLI-JSON.md)'),
  ).action(async (file: string | undefined, f: VerifyFlags & { bundle: string; json?: boolean }) => {
    const result = await verifyBlob(file, f);
    if (file === undefined)
      progress(
        'WARNING: no FILE given: the envelope and its statement verified, not which artifact it names',
      );
    cliIo().stderr.write('Verified OK\n');
    // Without --json the same document on one line (what scripts have parsed since v0.1).
    if (f.json) printJson(result);
    else cliIo().stdout.write(`${JSON.stringify(result)}\n`);
  });
}
