import { readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { isSigilError } from '../errors/index.js';
import {
  attestImage,
  createSigning,
  MAX_PREDICATE_BYTES,
  predicateOf,
  predicateTypeOf,
  resolveImage,
  signImageBundle,
} from '../sign/index.js';
import { CliError } from './output.js';
import {
  confirmUpload,
  describePushed,
  referrersMode,
  withLayoutFlags,
  type LayoutFlags,
  parseImage,
  progress,
  registryClient,
  signingConfig,
  withRegistryFlags,
  withSigningFlags,
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
      const ref = parseImage(image);
      const { predicateType, predicate } = readPredicate(f.predicate, f.type);
      const mode = referrersMode(f);
      const config = await signingConfig(f);
      const client = registryClient(ref, f);
      const resolved = await resolveImage(client, ref, progress);
      await confirmUpload(f.yes, config.logUrl!);
      const { builder } = createSigning(config);
      if (!f.legacyLayout) {
        const results = await signImageBundle({
          client,
          image: resolved.ref,
          builder,
          predicateType,
          predicate,
          mode,
          recursive: f.recursive === true,
          progress,
        });
        for (const r of results) progress(describePushed(r));
        return;
      }
      const r = await attestImage({ client, image: resolved, builder, predicateType, predicate, progress });
      progress(
        `Attestation attached to ${r.attached.ref.context()}:${r.attached.ref.tag} (${r.attached.layers} attestation(s))`,
      );
    },
  );
}
