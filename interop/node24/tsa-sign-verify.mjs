// Judge for sigil's TSA (test/tsa/node24.test.ts): the current sigstore-js signs with sigil's CA
// and TSA (TSAWitness), and verifies that bundle and a bundle from `sigil sign-blob` against
// sigil's trusted root. Input JSON on stdin: {caUrl, tsaUrl, token, trustedRoot, data (base64),
// sigilBundle, san, issuer}. Output: {signed: bundle, results: {name: "ok" | error message}}.
import { FulcioSigner, MessageSignatureBundleBuilder, TSAWitness } from '@sigstore/sign';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
import { bundleFromJSON, bundleToJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';

const input = JSON.parse(
  await new Promise((resolve) => {
    let s = '';
    process.stdin.on('data', (d) => (s += d));
    process.stdin.on('end', () => resolve(s));
  }),
);
const data = Buffer.from(input.data, 'base64');
const policy = { subjectAlternativeName: input.san, extensions: { issuer: input.issuer } };

const signed = await new MessageSignatureBundleBuilder({
  signer: new FulcioSigner({
    fulcioBaseURL: input.caUrl,
    identityProvider: { getToken: async () => input.token },
  }),
  witnesses: [new TSAWitness({ tsaBaseURL: input.tsaUrl })],
}).create({ data });
const signedJson = bundleToJSON(signed);

function attempt(bundleJson, root, options) {
  try {
    new Verifier(toTrustMaterial(TrustedRoot.fromJSON(root)), options).verify(
      toSignedEntity(bundleFromJSON(bundleJson), data),
      policy,
    );
    return 'ok';
  } catch (e) {
    return String(e?.message ?? e);
  }
}

const noTsaRoot = { ...input.trustedRoot, timestampAuthorities: [] };
// sigil's bundle without the log's SET: only the RFC 3161 timestamp can meet the threshold.
const sigilNoSet = structuredClone(input.sigilBundle);
for (const e of sigilNoSet.verificationMaterial.tlogEntries) delete e.inclusionPromise;
const results = {
  sigstoreJsBundle: attempt(signedJson, input.trustedRoot, {
    tsaThreshold: 1,
    tlogThreshold: 0,
    ctlogThreshold: 1,
  }),
  sigstoreJsBundleWithoutTsaInRoot: attempt(signedJson, noTsaRoot, {
    tsaThreshold: 1,
    tlogThreshold: 0,
    ctlogThreshold: 1,
  }),
  sigilBundle: attempt(input.sigilBundle, input.trustedRoot, {
    tsaThreshold: 1,
    tlogThreshold: 1,
    ctlogThreshold: 1,
  }),
  sigilBundleWithoutSet: attempt(sigilNoSet, input.trustedRoot, {
    tsaThreshold: 1,
    tlogThreshold: 1,
    ctlogThreshold: 1,
  }),
  sigilBundleWithoutSetOrTsaInRoot: attempt(sigilNoSet, noTsaRoot, {
    tsaThreshold: 1,
    tlogThreshold: 1,
    ctlogThreshold: 1,
  }),
};
process.stdout.write(JSON.stringify({ signed: signedJson, results }));
