import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseTrustedRoot } from '../../../src/bundle/index.js';
import { toPem } from '../../../src/crypto/index.js';
import { MEDIA_TYPES, parseReference } from '../../../src/oci/index.js';
import { BundleBuilder, createSigning, resolveImage, signImage } from '../../../src/sign/index.js';
import { createTsaServer, type TsaServer } from '../../../src/tsa/server.js';
import { issue } from '../../x509/test-ca.js';
import { webhookTestbed } from '../helpers.js';
import { seedAttestor } from './seed-policies.js';
import { admissionFor, indent, ivp, SIGNED } from './testbed.js';

/**
 * The IVP attestor fields beyond key and keyless, each against real signatures by sigil in
 * Debian's docker-registry over HTTPS, each with the case that denies when the field is wrong
 * (so a webhook that ignored the field would be caught): cosign.certificate (+ certChain, SCT as
 * cosign), ctlog.tsaCertChain (RFC 3161 timestamps), cosign.source (repository, tagPrefix) and
 * attestations[].referrer (typed OCI 1.1 referrers with a cosign signature on them).
 */
test('IVP attestors: certificate, tsaCertChain, source and referrer decide as written', async (t) => {
  const bed = await webhookTestbed(t);
  if (!bed) return;
  const { stack, servers, client, host, push, signer, sign } = bed;
  const root = parseTrustedRoot(stack.trustedRootJson);
  const id = { issuer: stack.oidc.issuer, logUrl: stack.log.url };
  const { decide } = admissionFor(servers, root);
  const keySigner = (
    privateKey: import('node:crypto').KeyObject,
    publicKey: import('node:crypto').KeyObject,
    tsaUrls?: string[],
  ) =>
    createSigning({
      key: { kind: 'key-file', privateKey, publicKey },
      logUrl: stack.log.url,
      ...(tsaUrls ? { tsaUrls } : {}),
    }).builder;
  const pinOf = async (ref: string, seed: string): Promise<string> =>
    `${ref}@${await push(`${ref}:v1`, seed)}`;

  await t.test(
    'cosign.certificate: the certificate key, its chain to certChain, and the SCT as cosign',
    async () => {
      const now = Date.now();
      const span = { notBefore: new Date(now - 60_000), notAfter: new Date(now + 3_600_000) };
      const ca = await issue({ name: 'policy root', ca: true, ...span });
      const otherCa = await issue({ name: 'other root', ca: true, ...span });
      const leaf = await issue({ name: 'release signer', issuer: ca, ...span });
      const stranger = await issue({ name: 'someone else', issuer: ca, ...span });
      const image = await pinOf(`${host}/org/cert-app`, 'signed with a certificate key');
      await sign(image, keySigner(leaf.privateKey, leaf.publicKey));
      const pem = (der: Buffer) => toPem('CERTIFICATE', der);
      const cert = (leafDer: Buffer, chain?: Buffer, ignoreSCT = true) =>
        `certificate:\n  cert:\n    value: |\n${indent(pem(leafDer), 6)}\n${
          chain ? `  certChain:\n    value: |\n${indent(pem(chain), 6)}\n` : ''
        }ctlog:\n  url: ${stack.log.url}\n  insecureIgnoreSCT: ${ignoreSCT}\n`;
      const glob = `${host}/org/cert-app*`;
      const ok = await decide(ivp('cert-chain', glob, cert(leaf.der, ca.der), SIGNED), image);
      assert.equal(ok.allowed, true, ok.status?.message);
      assert.equal((await decide(ivp('cert-only', glob, cert(leaf.der), SIGNED), image)).allowed, true);
      // Another certificate of the same CA: its key did not sign.
      const wrong = await decide(ivp('cert-wrong', glob, cert(stranger.der, ca.der), SIGNED), image);
      assert.equal(wrong.allowed, false);
      assert.equal(wrong.status?.message, 'Policy cert-wrong failed: not verified');
      // The right certificate, a chain it does not lead to.
      assert.equal(
        (await decide(ivp('cert-chain-wrong', glob, cert(leaf.der, otherCa.der), SIGNED), image)).allowed,
        false,
      );
      // cosign sign --key --certificate: the signature carries the certificate (logged with it).
      const withCert = await pinOf(`${host}/org/cert-app-attached`, 'signature carries the certificate');
      const plain = createSigning({
        key: { kind: 'key-file', privateKey: leaf.privateKey, publicKey: leaf.publicKey },
        logUrl: stack.log.url,
      });
      const certSigner = {
        sign: async (data: Uint8Array) => ({
          ...(await plain.signer.sign(data)),
          material: { kind: 'certificate' as const, leaf: leaf.der, chain: [], publicKey: leaf.publicKey },
        }),
      };
      await sign(withCert, new BundleBuilder(certSigner, plain.witnesses));
      const attached = await decide(ivp('cert-attached', glob, cert(leaf.der, ca.der), SIGNED), withCert);
      assert.equal(attached.allowed, true, attached.status?.message);
      assert.equal(
        (await decide(ivp('cert-attached-other', glob, cert(stranger.der, ca.der), SIGNED), withCert))
          .allowed,
        false,
      );
      assert.equal(
        (await decide(ivp('cert-attached-chain', glob, cert(leaf.der, otherCa.der), SIGNED), withCert))
          .allowed,
        false,
      );
      // cosign: with a chain and without insecureIgnoreSCT the certificate must carry an SCT.
      assert.equal(
        (await decide(ivp('cert-no-sct', glob, cert(leaf.der, ca.der, false), SIGNED), image)).allowed,
        false,
      );
    },
  );

  await t.test('ctlog.tsaCertChain: a timestamp from that TSA is required and verified', async (t2) => {
    const dirs = [mkdtempSync(join(tmpdir(), 'sigil-tsa-a-')), mkdtempSync(join(tmpdir(), 'sigil-tsa-b-'))];
    const tsas: TsaServer[] = [];
    t2.after(async () => {
      for (const s of tsas) await s.close();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });
    for (const d of dirs) tsas.push(await createTsaServer({ dataDir: d, port: 0, logLevel: 'silent' }));
    const [tsa, otherTsa] = tsas as [TsaServer, TsaServer];
    const { generateKeyPairSync } = await import('node:crypto');
    const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const stamped = await pinOf(`${host}/org/tsa-stamped`, 'timestamped');
    await sign(stamped, keySigner(keys.privateKey, keys.publicKey, [tsa.timestampUrl]));
    const bare = await pinOf(`${host}/org/tsa-bare`, 'not timestamped');
    await sign(bare, keySigner(keys.privateKey, keys.publicKey));
    const key = (chainPem?: string) =>
      `key:\n  data: |\n${indent(keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(), 4)}\nctlog:\n  url: ${stack.log.url}\n${
        chainPem ? `  tsaCertChain: |\n${indent(chainPem, 4)}\n` : ''
      }`;
    const glob = `${host}/org/tsa-*`;
    const ok = await decide(ivp('tsa', glob, key(tsa.material.chainPem), SIGNED), stamped);
    assert.equal(ok.allowed, true, ok.status?.message);
    // Another TSA's chain: the timestamp does not verify, so the signature is not accepted.
    assert.equal(
      (await decide(ivp('tsa-other', glob, key(otherTsa.material.chainPem), SIGNED), stamped)).allowed,
      false,
    );
    // Without a timestamp the chain cannot be satisfied; without tsaCertChain the timestamp is not asked for.
    assert.equal(
      (await decide(ivp('tsa-none', glob, key(tsa.material.chainPem), SIGNED), bare)).allowed,
      false,
    );
    assert.equal((await decide(ivp('no-tsa', glob, key(), SIGNED), bare)).allowed, true);
  });

  await t.test('cosign.source: signatures looked up in repository and under tagPrefix', async () => {
    const ci = await signer();
    const elsewhere = await pinOf(`${host}/org/src-app`, 'signatures elsewhere');
    await signImage({
      client,
      image: await resolveImage(client, parseReference(elsewhere)),
      builder: ci,
      attachment: { repository: parseReference(`${host}/org/sigs`) },
    });
    const prefixed = await pinOf(`${host}/org/src-prefixed`, 'prefixed signature tag');
    await signImage({
      client,
      image: await resolveImage(client, parseReference(prefixed)),
      builder: ci,
      attachment: { tagPrefix: 'v2-' },
    });
    const keyless = seedAttestor(id)
      .split('\n')
      .slice(3)
      .map((l) => l.slice(8))
      .join('\n');
    const withSource = (src: string) => `${keyless.trimEnd()}\nsource:\n${indent(src, 2)}\n`;
    const glob = `${host}/org/src-*`;
    const ok = await decide(
      ivp('src-repo', glob, withSource(`repository: ${host}/org/sigs`), SIGNED),
      elsewhere,
    );
    assert.equal(ok.allowed, true, ok.status?.message);
    assert.equal((await decide(ivp('src-none', glob, keyless, SIGNED), elsewhere)).allowed, false);
    assert.equal(
      (
        await decide(
          ivp('src-empty', glob, withSource(`repository: ${host}/org/nothing-here`), SIGNED),
          elsewhere,
        )
      ).allowed,
      false,
    );
    const pre = await decide(ivp('src-prefix', glob, withSource('tagPrefix: v2-'), SIGNED), prefixed);
    assert.equal(pre.allowed, true, pre.status?.message);
    assert.equal((await decide(ivp('src-no-prefix', glob, keyless, SIGNED), prefixed)).allowed, false);
  });

  await t.test(
    'attestations[].referrer: typed OCI 1.1 referrers, accepted on a cosign signature of the referrer',
    async () => {
      const ci = await signer();
      const other = await signer({
        job_workflow_ref: 'org/repo/.github/workflows/other.yml@refs/heads/main',
        workflow_ref: 'org/repo/.github/workflows/other.yml@refs/heads/main',
      });
      const SBOM = 'application/vnd.example.sbom.v1+json';
      const attach = async (image: string, doc: unknown): Promise<string> => {
        const ref = parseReference(image);
        const head = await client.headManifest(ref);
        const body = Buffer.from(JSON.stringify(doc), 'utf8');
        const layer = await client.putBlob(ref, body, { mediaType: 'application/json' });
        const config = await client.putBlob(ref, Buffer.from('{}'), { mediaType: MEDIA_TYPES.ociEmpty });
        const manifest = {
          schemaVersion: 2,
          mediaType: MEDIA_TYPES.ociManifest,
          artifactType: SBOM,
          config,
          layers: [layer],
          subject: { mediaType: head!.mediaType, digest: head!.digest, size: head!.size },
        };
        return client.pushReferrer(ref, Buffer.from(JSON.stringify(manifest)), MEDIA_TYPES.ociManifest);
      };
      const good = await pinOf(`${host}/org/ref-good`, 'sbom signed');
      await sign(`${host}/org/ref-good@${await attach(good, { name: 'ref-good', packages: 3 })}`, ci);
      const unsigned = await pinOf(`${host}/org/ref-unsigned`, 'sbom unsigned');
      await attach(unsigned, { name: 'ref-unsigned', packages: 3 });
      const foreign = await pinOf(`${host}/org/ref-foreign`, 'sbom signed by another workflow');
      await sign(
        `${host}/org/ref-foreign@${await attach(foreign, { name: 'ref-foreign', packages: 3 })}`,
        other,
      );
      const keyless = seedAttestor(id)
        .split('\n')
        .slice(3)
        .map((l) => l.slice(8))
        .join('\n');
      const extra = `  attestations:\n    - name: sbom\n      referrer:\n        type: ${SBOM}\n`;
      const check =
        'images.containers.all(i, verifyAttestationSignatures(i, attestations.sbom, [attestors.a]) > 0 && extractPayload(i, attestations.sbom).packages == 3)';
      const policy = ivp('sbom', `${host}/org/ref-*`, keyless, check, extra);
      const ok = await decide(policy, good);
      assert.equal(ok.allowed, true, ok.status?.message);
      assert.equal((await decide(policy, unsigned)).allowed, false);
      assert.equal((await decide(policy, foreign)).allowed, false);
      const wrongType = ivp(
        'sbom-type',
        `${host}/org/ref-*`,
        keyless,
        check,
        extra.replace(SBOM, 'application/vnd.example.other+json'),
      );
      assert.equal((await decide(wrongType, good)).allowed, false);
    },
  );
});
