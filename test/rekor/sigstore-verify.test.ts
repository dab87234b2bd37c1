import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { createEntry, hashedRekord, startLog } from './helpers.js';
import { publicKeyBundle, trustedRoot } from './bundle.js';

const HINT = 'sigil-test-signer';

function verifierFor(
  baseUrl: string,
  logKey: KeyObject,
  logId: string,
  signerKey: KeyObject,
  timestampThreshold = 1,
): Verifier {
  const root = TrustedRoot.fromJSON(trustedRoot(baseUrl, logKey, logId));
  const material = toTrustMaterial(root, (hint: string) => {
    if (hint !== HINT) throw new Error(`unknown key hint ${hint}`);
    return { publicKey: signerKey, validFor: () => true };
  });
  return new Verifier(material, { tlogThreshold: 1, ctlogThreshold: 0, timestampThreshold });
}

function check(v: Verifier, bundle: unknown, data: Buffer): void {
  v.verify(toSignedEntity(bundleFromJSON(bundle), data));
}

test('@sigstore/verify 3.1.1 accepts an entry of this log (SET, inclusion proof, checkpoint) and refuses tampered ones', async (t) => {
  const server = await startLog(t);
  const logKey = createPublicKey(server.publicKeyPem);
  // A few entries first so the proof has hashes in it.
  for (let i = 0; i < 5; i++) await createEntry(server.url, hashedRekord().entry);
  const s = hashedRekord(Buffer.from('the artifact'));
  const entry = await createEntry(server.url, s.entry);
  assert.ok(entry.verification.inclusionProof.hashes.length > 0);
  for (let i = 0; i < 3; i++) await createEntry(server.url, hashedRekord().entry);

  const v = verifierFor(server.url, logKey, server.logId, s.publicKey);
  const bundle = publicKeyBundle(entry, s.digest, s.signature, HINT);
  check(v, bundle, s.data);

  // The same entry read back later (proof against a newer checkpoint) also verifies.
  const res = await fetch(`${server.url}/api/v1/log/entries/${entry.uuid}`);
  const [uuid, later] = Object.entries((await res.json()) as Record<string, typeof entry>)[0]!;
  assert.equal(uuid, entry.uuid);
  assert.ok(later.verification.inclusionProof.treeSize > entry.verification.inclusionProof.treeSize);
  check(v, publicKeyBundle({ ...later, uuid }, s.digest, s.signature, HINT), s.data);

  // Wrong artifact.
  assert.throws(() => check(v, bundle, Buffer.from('another artifact')));

  const tamper = (
    mutate: (b: { verificationMaterial: { tlogEntries: Record<string, never>[] } }) => void,
  ): unknown => {
    const b = structuredClone(bundle) as { verificationMaterial: { tlogEntries: Record<string, never>[] } };
    mutate(b);
    return b;
  };
  const flipB64 = (b64: string, at: number): string => {
    const buf = Buffer.from(b64, 'base64');
    buf[at % buf.length]! ^= 0x01;
    return buf.toString('base64');
  };
  const cases: [string, unknown][] = [
    [
      'one byte of the body',
      tamper((b) => {
        const tle = b.verificationMaterial.tlogEntries[0] as unknown as { canonicalizedBody: string };
        const text = Buffer.from(tle.canonicalizedBody, 'base64').toString();
        // Change one character inside the digest value (keeps the JSON valid).
        const i = text.indexOf(s.digest.toString('hex')) + 5;
        const changed = text.slice(0, i) + (text[i] === 'a' ? 'b' : 'a') + text.slice(i + 1);
        tle.canonicalizedBody = Buffer.from(changed).toString('base64');
      }),
    ],
    [
      'one byte of the SET',
      tamper((b) => {
        const tle = b.verificationMaterial.tlogEntries[0] as unknown as {
          inclusionPromise: { signedEntryTimestamp: string };
        };
        tle.inclusionPromise.signedEntryTimestamp = flipB64(tle.inclusionPromise.signedEntryTimestamp, 20);
      }),
    ],
    [
      'one byte of the checkpoint signature',
      tamper((b) => {
        const tle = b.verificationMaterial.tlogEntries[0] as unknown as {
          inclusionProof: { checkpoint: { envelope: string } };
        };
        const env = tle.inclusionProof.checkpoint.envelope;
        const m = /(\u2014 \S+ )(\S+)\n$/.exec(env)!;
        tle.inclusionProof.checkpoint.envelope = env.slice(0, m.index) + m[1] + flipB64(m[2]!, 30) + '\n';
      }),
    ],
    [
      'the checkpoint root hash',
      tamper((b) => {
        const tle = b.verificationMaterial.tlogEntries[0] as unknown as {
          inclusionProof: { checkpoint: { envelope: string } };
        };
        const lines = tle.inclusionProof.checkpoint.envelope.split('\n');
        lines[2] = flipB64(lines[2]!, 3);
        tle.inclusionProof.checkpoint.envelope = lines.join('\n');
      }),
    ],
    [
      'an inclusion proof hash',
      tamper((b) => {
        const tle = b.verificationMaterial.tlogEntries[0] as unknown as {
          inclusionProof: { hashes: string[] };
        };
        tle.inclusionProof.hashes[0] = flipB64(tle.inclusionProof.hashes[0]!, 7);
      }),
    ],
    [
      'the integrated time',
      tamper((b) => {
        const tle = b.verificationMaterial.tlogEntries[0] as unknown as { integratedTime: string };
        tle.integratedTime = String(Number(tle.integratedTime) - 1);
      }),
    ],
  ];
  for (const [name, tampered] of cases) {
    assert.throws(
      () => check(v, tampered, s.data),
      (e: unknown) => /^TLOG_INCLUSION_(PROMISE|PROOF)_ERROR$/.test((e as { code?: string }).code ?? ''),
      `tampering with ${name} must fail tlog verification`,
    );
  }

  // Without the SET, the inclusion proof and checkpoint alone verify, and a changed body fails them.
  const proofOnly = verifierFor(server.url, logKey, server.logId, s.publicKey, 0);
  const noSet = tamper(
    (b) => delete (b.verificationMaterial.tlogEntries[0] as { inclusionPromise?: unknown }).inclusionPromise,
  );
  check(proofOnly, noSet, s.data);
  const noSetChangedBody = structuredClone(noSet) as {
    verificationMaterial: { tlogEntries: { canonicalizedBody: string }[] };
  };
  const tle = noSetChangedBody.verificationMaterial.tlogEntries[0]!;
  tle.canonicalizedBody = Buffer.from(
    Buffer.from(tle.canonicalizedBody, 'base64').toString().replace('"sha256"', '"sha256" '),
  ).toString('base64');
  assert.throws(
    () => check(proofOnly, noSetChangedBody, s.data),
    (e: unknown) => (e as { code?: string }).code === 'TLOG_INCLUSION_PROOF_ERROR',
  );

  // A trusted root naming another URL (no checkpoint-name match) or another key refuses it too.
  assert.throws(() =>
    check(verifierFor('https://rekor.example.org', logKey, server.logId, s.publicKey), bundle, s.data),
  );
});
