import type { Command } from 'commander';
import { describeAttachments, triangulate, type AttachmentKind, type AttachmentTree } from '../oci/cosign.js';
import { CliError } from './output.js';
import { cliIo } from './io.js';
import { parseImage, registryClient, withRegistryFlags, type RegistryFlags } from './sign.js';

const KINDS: Record<string, AttachmentKind> = { signature: 'sig', attestation: 'att', sbom: 'sbom' };
const TITLES: Record<AttachmentKind, string> = { sig: 'Signatures', att: 'Attestations', sbom: 'SBOMs' };

function treeText(t: AttachmentTree): string {
  const lines = [`Supply chain artifacts for an image: ${t.image.context()}@${t.digest}`];
  const parts = (['sig', 'att', 'sbom'] as const).filter((k) => t[k]);
  for (const k of parts) {
    const s = t[k]!;
    lines.push(`└── ${TITLES[k]} for an image tag: ${s.ref.context()}:${s.ref.tag}`);
    for (const l of s.layers) lines.push(`   └── ${l.digest}`);
  }
  if (t.referrers.length > 0) {
    const via =
      t.referrersVia === 'fallback-tag'
        ? ` (fallback tag ${t.digest.replace(':', '-')})`
        : ' (referrers API)';
    lines.push(`└── OCI referrers${via}:`);
    for (const r of t.referrers) {
      const what = [r.artifactType, r.annotations?.['dev.sigstore.bundle.predicateType']].filter(Boolean);
      lines.push(`   └── ${r.digest}${what.length > 0 ? ` (${what.join(', ')})` : ''}`);
    }
  }
  if (parts.length === 0 && t.referrers.length === 0)
    lines.push('No supply chain artifacts found for this image');
  return `${lines.join('\n')}\n`;
}

export function register(program: Command): void {
  withRegistryFlags(
    program
      .command('tree')
      .description('show the signatures, attestations, SBOMs and referrers attached to an image')
      .argument('<image>', 'REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]')
      .option('--json', 'print JSON'),
  ).action(async (image: string, f: RegistryFlags & { json?: boolean }) => {
    const ref = parseImage(image);
    const t = await describeAttachments(registryClient(ref, f), ref);
    if (!f.json) return void cliIo().stdout.write(treeText(t));
    const summary = (k: AttachmentKind) =>
      t[k]
        ? { ref: `${t[k].ref.context()}:${t[k].ref.tag}`, digest: t[k].digest, layers: t[k].layers }
        : null;
    cliIo().stdout.write(
      `${JSON.stringify({ image: t.image.toString(), digest: t.digest, signatures: summary('sig'), attestations: summary('att'), sboms: summary('sbom'), referrers: t.referrers, referrersVia: t.referrersVia ?? null }, null, 2)}\n`,
    );
  });

  withRegistryFlags(
    program
      .command('triangulate')
      .description('print where the signatures (or attestations, SBOMs) of an image are stored')
      .argument('<image>', 'REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]')
      .option('--type <type>', 'signature, attestation or sbom', 'signature'),
  ).action(async (image: string, f: RegistryFlags & { type: string }) => {
    const kind = KINDS[f.type];
    if (!kind)
      throw new CliError(`invalid --type ${JSON.stringify(f.type)}`, 'use signature, attestation or sbom');
    const ref = parseImage(image);
    const digest = ref.digest ?? (await registryClient(ref, f).resolveDigest(ref));
    const where = triangulate(ref.withDigest(digest), kind);
    cliIo().stdout.write(`${where.context()}:${where.tag}\n`);
  });
}
