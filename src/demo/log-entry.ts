import { createPublicKey } from 'node:crypto';
import { parseCheckpoint, parseSignedNote } from '../bundle/index.js';
import { RekorClient } from '../rekor/client.js';
import { verifyLogEntry } from '../rekor/verify-entry.js';
import type { TrustMaterial, VerificationResult } from '../verify/index.js';
import type { Stack } from './stack.js';

const mark = (b: boolean | undefined): string => (b ? '✔' : '✘');

function inside(cert: { notBefore: string; notAfter: string }, t: number): boolean {
  return Date.parse(cert.notBefore) <= t && t <= Date.parse(cert.notAfter);
}

/** The checkpoint of the bundle's first log entry (a Rekor v2 entry carries its own). */
function bundleCheckpoint(bundleJson: unknown): string | undefined {
  const e = (bundleJson as { verificationMaterial?: { tlogEntries?: unknown[] } })?.verificationMaterial
    ?.tlogEntries?.[0] as { inclusionProof?: { checkpoint?: { envelope?: string } } } | undefined;
  return e?.inclusionProof?.checkpoint?.envelope;
}

/**
 * The "permanently recorded in" link of the trust chain: a Rekor v2 entry (no SET; its time is
 * the RFC 3161 timestamp's) read from the bundle, or a v1 entry fetched again from the log and
 * re-verified with its SET. Returns the lines and whether every check held.
 */
export async function logEntryLines(
  stack: Stack,
  trust: TrustMaterial,
  r: VerificationResult,
  bundleJson: unknown,
): Promise<{ lines: string[]; ok: boolean }> {
  const tlog = r.tlogEntries[0];
  const cert = r.certificate!;
  if (tlog?.rekorV2) {
    const ts = r.timestamps[0];
    const t = ts ? Date.parse(ts.time) : NaN;
    const envelope = bundleCheckpoint(bundleJson) ?? '';
    const cp = parseCheckpoint(parseSignedNote(envelope).text);
    const ok = tlog.inclusionProof && ts !== undefined && inside(cert, t);
    return {
      ok,
      lines: [
        `Transparency log entry (Rekor v2 log ${stack.logV2.url}, its own tree and key)`,
        `  log index:       ${tlog.logIndex} (hashedrekord 0.0.2: the envelope logged as a digest of its PAE)`,
        `  integrated time: none (Rekor v2 signs no SET); the time comes from the TSA:`,
        `  RFC 3161 timestamp ${ts?.time ?? '(none)'} by ${ts?.authority ?? '(none)'} (inside the certificate's validity ${mark(ts !== undefined && inside(cert, t))})`,
        `  inclusion proof verified ${mark(tlog.inclusionProof)}: leaf ${tlog.logIndex} of a tree of ${cp.size}, root ${cp.rootHash.toString('hex')}`,
        `  checkpoint signed by the v2 log key (origin ${cp.origin}) ${mark(tlog.inclusionProof)}:`,
        ...envelope
          .trimEnd()
          .split('\n')
          .map((l) => `    ${l}`),
      ],
    };
  }
  const logKeyDer = trust.root.tlogs[0]!.publicKey.rawBytes;
  const logKey = createPublicKey({ key: Buffer.from(logKeyDer), format: 'der', type: 'spki' });
  const entry = await new RekorClient(stack.log.url).getEntryByIndex(r.logIndex!);
  const proof = verifyLogEntry(entry!, logKey);
  const inWindow = inside(cert, r.integratedTimeUnix! * 1000);
  return {
    ok: Boolean(tlog?.inclusionPromise) && inWindow,
    lines: [
      `Transparency log entry (${stack.log.url})`,
      `  log index:       ${r.logIndex}`,
      `  entry ID:        ${proof.uuid}`,
      `  integrated time: ${r.integratedTime} (inside the certificate's validity ${mark(inWindow)})`,
      `  SET verified with the log key ${mark(tlog?.inclusionPromise)}`,
      `  inclusion proof verified ${mark(true)}: leaf ${proof.logIndex} of a tree of ${proof.checkpoint.size}, root ${proof.checkpoint.rootHash.toString('hex')}`,
      `  checkpoint signed by ${proof.checkpointSigner} ${mark(true)}:`,
      ...entry!.verification.inclusionProof.checkpoint
        .trimEnd()
        .split('\n')
        .map((l) => `    ${l}`),
    ],
  };
}
