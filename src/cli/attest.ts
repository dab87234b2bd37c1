import { readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { isSigilError } from '../errors/index.js';
import { attestImage, MAX_PREDICATE_BYTES, predicateOf, predicateTypeOf } from '../sign/index.js';
import { CliError } from './output.js';
import {
  progress,
  signWithLayout,
  withLayoutFlags,
  withRegistryFlags,
  withSigningFlags,
  type LayoutFlags,
  type RegistryFlags,
  type SigningFlags,
} from './sign.js';

function readPredicate(path: string, type: string): { predicateType: string; predicate: unknown } {
  try {
    const predicateType = predicateTypeOf(type);
    if (statSync(path).size > MAX_PREDICATE_BYTES)
      throw new CliError(`predicate ${path} is larger than ${MAX_PREDICATE_BYTES} bytes`);
    return { predicateType, predicate: predicateOf(type, readFileSync(path)) };
  } catch (e) {
    if (isSigilError(e)) throw new CliError(e.message);
    if (e instanceof CliError) throw e;
    throw new CliError(
      `cannot read predicate ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
}

export function register(program: Command): void {
  withLayoutFlags(
    withRegistryFlags(
      withSigningFlags(
        program
          .command('attest')
          .description(
            'attach a signed in-toto attestation (DSSE bundle, logged as a dsse entry) to an image as an OCI referrer, as cosign v3 does',
          )
          .argument('<image>', 'REGISTRY/REPOSITORY@sha256:DIGEST (a tag is resolved to its digest)')
          .requiredOption('--predicate <file>', 'the predicate (JSON; any text for --type custom)')
          .option(
            '--type <type>',
            'slsaprovenance, slsaprovenance1, link, spdx, spdxjson, cyclonedx, vuln, openvex, custom, or a URI',
            'custom',
          ),
      ),
    ),
  ).action(
    async (
      image: string,
      f: SigningFlags & RegistryFlags & LayoutFlags & { predicate: string; type: string },
    ) => {
      const { predicateType, predicate } = readPredicate(f.predicate, f.type);
      await signWithLayout(image, f, { predicateType, predicate }, async (ctx) => {
        const r = await attestImage({ ...ctx, predicateType, predicate, progress });
        return `Attestation attached to ${r.attached.ref.context()}:${r.attached.ref.tag} (${r.attached.layers} attestation(s))`;
      });
    },
  );
}
