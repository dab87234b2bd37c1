// Judge for sigil's verifier (issue 15): the current @sigstore/verify (4.x, Node >= 22.22) verifies
// each case as sigstore-js's own conformance client does (file input). stdin: { cases: [{ id,
// bundle, trustedRoot (JSON texts), artifact (base64) | null, identity, issuer, key (PEM) | null }] };
// stdout: [{ id, ok, error? }].
import { createPublicKey } from 'node:crypto';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { bundleFromJSON } from '@sigstore/bundle';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const { cases } = JSON.parse(input);
const roots = new Map();

function verifyOne(c) {
  let trust = roots.get(c.trustedRoot);
  if (!trust) {
    trust = toTrustMaterial(TrustedRoot.fromJSON(JSON.parse(c.trustedRoot)));
    roots.set(c.trustedRoot, trust);
  }
  const bundle = bundleFromJSON(JSON.parse(c.bundle));
  const material = c.key
    ? { ...trust, publicKey: () => ({ publicKey: createPublicKey(c.key), validFor: () => true }) }
    : trust;
  const verifier = new Verifier(material);
  const entity = toSignedEntity(bundle, c.artifact === null ? undefined : Buffer.from(c.artifact, 'base64'));
  if (c.key) verifier.verify(entity);
  else verifier.verify(entity, { subjectAlternativeName: c.identity, extensions: { issuer: c.issuer } });
}

const out = cases.map((c) => {
  try {
    verifyOne(c);
    return { id: c.id, ok: true };
  } catch (e) {
    return {
      id: c.id,
      ok: false,
      error: `${e?.code ?? e?.name ?? 'Error'}: ${e?.message ?? e}`.slice(0, 300),
    };
  }
});
process.stdout.write(JSON.stringify(out));
