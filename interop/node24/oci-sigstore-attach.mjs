// Judge (issue 18): what GitHub's actions/attest does, with the current sigstore-js: sign an
// in-toto statement with @sigstore/sign against the given CA and log, and attach the bundle to
// an image with @sigstore/oci (referrers API, or the fallback tag it maintains itself).
// stdin: { imageName, imageDigest, statement (JSON text), predicateType, fulcioURL, rekorURL, token, credentials }
// stdout: { descriptor, bundle }
import { DSSEBundleBuilder, FulcioSigner, RekorWitness } from '@sigstore/sign';
import { bundleToJSON } from '@sigstore/bundle';
import { attachArtifactToImage } from '@sigstore/oci';

const input = JSON.parse(
  await new Promise((resolve) => {
    let s = '';
    process.stdin.on('data', (d) => (s += d));
    process.stdin.on('end', () => resolve(s));
  }),
);
const signer = new FulcioSigner({
  fulcioBaseURL: input.fulcioURL,
  identityProvider: { getToken: async () => input.token },
});
const builder = new DSSEBundleBuilder({
  signer,
  witnesses: [new RekorWitness({ rekorBaseURL: input.rekorURL, entryType: 'dsse' })],
});
const bundle = await builder.create({
  data: Buffer.from(input.statement),
  type: 'application/vnd.in-toto+json',
});
const json = bundleToJSON(bundle);
const descriptor = await attachArtifactToImage({
  imageName: input.imageName,
  imageDigest: input.imageDigest,
  artifact: Buffer.from(JSON.stringify(json)),
  mediaType: json.mediaType,
  annotations: {
    'dev.sigstore.bundle.content': 'dsse-envelope',
    'dev.sigstore.bundle.predicateType': input.predicateType,
  },
  credentials: input.credentials,
});
process.stdout.write(JSON.stringify({ descriptor, bundle: json }));
