// Judge (issue 18): @sigstore/verify checks a bundle exactly as sigil stored it in a registry
// layer (the bytes, base64), against a trusted root and an identity.
// stdin: { layer (base64), trustedRoot, san, issuer }   stdout: { ok, error?, payloadType?, san? }
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';

const input = JSON.parse(
  await new Promise((resolve) => {
    let s = '';
    process.stdin.on('data', (d) => (s += d));
    process.stdin.on('end', () => resolve(s));
  }),
);
try {
  const bundle = bundleFromJSON(JSON.parse(Buffer.from(input.layer, 'base64').toString('utf8')));
  const verifier = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(input.trustedRoot)), {
    tlogThreshold: 1,
    ctlogThreshold: 1,
  });
  const signer = verifier.verify(toSignedEntity(bundle), {
    subjectAlternativeName: input.san,
    extensions: { issuer: input.issuer },
  });
  process.stdout.write(
    JSON.stringify({
      ok: true,
      payloadType: bundle.content.dsseEnvelope?.payloadType,
      san: signer.identity?.subjectAlternativeName,
    }),
  );
} catch (e) {
  process.stdout.write(JSON.stringify({ ok: false, error: String(e?.message ?? e) }));
}
