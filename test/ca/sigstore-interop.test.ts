import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FulcioSigner, MessageSignatureBundleBuilder, RekorWitness } from '@sigstore/sign';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
import { bundleFromJSON, bundleToJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { createLogServer } from '../../src/rekor/server.js';
import { fetchTrustedRoot } from '../../src/ca/client.js';
import { TRUSTED_ROOT_MEDIA_TYPE } from '../../src/ca/trusted-root.js';
import { startStack } from './helpers.js';

test('official @sigstore/sign gets a certificate and a log entry; @sigstore/verify verifies offline', async () => {
  const stack = await startStack();
  const logServer = await createLogServer({
    dataDir: join(stack.dir, 'log'),
    port: 0,
    logLevel: 'silent',
    workers: 0,
  });
  try {
    const token = await stack.oidc.mint();
    const builder = new MessageSignatureBundleBuilder({
      signer: new FulcioSigner({
        fulcioBaseURL: stack.ca.url,
        identityProvider: { getToken: async () => token },
      }),
      witnesses: [new RekorWitness({ rekorBaseURL: logServer.url })],
    });
    const artifact = Buffer.from('sigil keyless artifact');
    const bundle = await builder.create({ data: artifact });
    const bundleJson = bundleToJSON(bundle);

    const rootJson = await fetchTrustedRoot({ caUrl: stack.ca.url, logUrl: logServer.url });
    assert.equal(rootJson.mediaType, TRUSTED_ROOT_MEDIA_TYPE);
    const verifier = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(rootJson)), {
      ctlogThreshold: 1,
      tlogThreshold: 1,
      timestampThreshold: 0,
    });
    const policy = {
      subjectAlternativeName: 'https://github.com/org/repo/.github/workflows/CI-CD.yml@refs/heads/main',
      extensions: { issuer: stack.oidc.issuer },
    };
    const signer = verifier.verify(toSignedEntity(bundleFromJSON(bundleJson), artifact), policy);
    assert.equal(signer.identity?.subjectAlternativeName, policy.subjectAlternativeName);
    assert.equal(signer.identity?.extensions?.issuer, stack.oidc.issuer);

    // every link is load-bearing: wrong identity, wrong artifact, a root without the CT key
    assert.throws(() =>
      verifier.verify(toSignedEntity(bundleFromJSON(bundleJson), artifact), {
        ...policy,
        subjectAlternativeName: 'https://github.com/evil',
      }),
    );
    assert.throws(() =>
      verifier.verify(toSignedEntity(bundleFromJSON(bundleJson), Buffer.from('other')), policy),
    );
    const noCt = new Verifier(toTrustMaterial(TrustedRoot.fromJSON({ ...rootJson, ctlogs: [] })), {
      ctlogThreshold: 1,
      tlogThreshold: 1,
      timestampThreshold: 0,
    });
    assert.throws(() => noCt.verify(toSignedEntity(bundleFromJSON(bundleJson), artifact), policy), /SCT/i);
  } finally {
    await logServer.close();
    await stack.close();
  }
});
