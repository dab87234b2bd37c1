// Judge for sigil's Rekor v2 log (test/rekor-v2/node24.test.ts): the current sigstore-js signs a
// blob and an in-toto statement from sigil's signing config (bundleBuilderFromSigningConfig: CA,
// the v2 log, TSA) and verifies them, and bundles from `sigil sign-blob` / `sigil attest`, against
// sigil's trusted root with tsaThreshold 1, tlogThreshold 1, ctlogThreshold 1.
// Input JSON on stdin: {signingConfig, token, trustedRoot, data (base64), statement (base64),
// sigilBlobBundle, sigilDsseBundle?, san, issuer}.
// Output: {blob, dsse (bundles), results: {name: "ok" | error message}}.
import { bundleBuilderFromSigningConfig } from '@sigstore/sign';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
import { bundleFromJSON, bundleToJSON } from '@sigstore/bundle';
import { SigningConfig, TrustedRoot } from '@sigstore/protobuf-specs';

const input = JSON.parse(
  await new Promise((resolve) => {
    let s = '';
    process.stdin.on('data', (d) => (s += d));
    process.stdin.on('end', () => resolve(s));
  }),
);
const data = Buffer.from(input.data, 'base64');
const statement = Buffer.from(input.statement, 'base64');
const policy = { subjectAlternativeName: input.san, extensions: { issuer: input.issuer } };
const options = { tsaThreshold: 1, tlogThreshold: 1, ctlogThreshold: 1 };
const signingConfig = SigningConfig.fromJSON(input.signingConfig);
const identityProvider = { getToken: async () => input.token };
const fetchOptions = { timeout: 20000, retry: 0 };

const blob = bundleToJSON(
  await bundleBuilderFromSigningConfig({
    signingConfig,
    identityProvider,
    bundleType: 'messageSignature',
    fetchOptions,
  }).create({
    data,
  }),
);
const dsse = bundleToJSON(
  await bundleBuilderFromSigningConfig({
    signingConfig,
    identityProvider,
    bundleType: 'dsseEnvelope',
    fetchOptions,
  }).create({
    data: statement,
    type: 'application/vnd.in-toto+json',
  }),
);

function attempt(bundleJson, artifact, root = input.trustedRoot) {
  try {
    new Verifier(toTrustMaterial(TrustedRoot.fromJSON(root)), options).verify(
      toSignedEntity(bundleFromJSON(bundleJson), artifact),
      policy,
    );
    return 'ok';
  } catch (e) {
    return String(e?.message ?? e);
  }
}

// The v2 log missing from the root: nothing else can meet tlogThreshold 1.
const noV2Root = {
  ...input.trustedRoot,
  tlogs: input.trustedRoot.tlogs.filter((l) => l.baseUrl !== input.v2Url),
};
const tampered = structuredClone(blob);
const proof = tampered.verificationMaterial.tlogEntries[0].inclusionProof;
proof.checkpoint.envelope = proof.checkpoint.envelope.replace(/\n(\d+)\n/, (_m, n) => `\n${Number(n) + 1}\n`);
const results = {
  blob: attempt(blob, data),
  blobWithoutV2LogInRoot: attempt(blob, data, noV2Root),
  blobTamperedCheckpoint: attempt(tampered, data),
  dsse: attempt(dsse, undefined),
  sigilBlob: attempt(input.sigilBlobBundle, data),
  sigilBlobOtherArtifact: attempt(input.sigilBlobBundle, Buffer.from('other')),
  ...(input.sigilDsseBundle ? { sigilDsse: attempt(input.sigilDsseBundle, undefined) } : {}),
};
process.stdout.write(JSON.stringify({ blob, dsse, results }));
