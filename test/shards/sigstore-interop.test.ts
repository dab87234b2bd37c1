import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import type { IdentifiedLogEntry } from '../../src/rekor/log-entry.js';
import type { LogServer } from '../../src/rekor/server.js';
import { createEntry, hashedRekord, type Signed } from '../rekor/helpers.js';
import { publicKeyBundle, trustedRoot } from '../rekor/bundle.js';
import { getJson, grow, logKey, only, rotatedAfter } from './helpers.js';

const HINT = 'sigil-shard-signer';

/** @sigstore/verify 3.1.1 over a trusted root listing this log (one key for every shard). */
function verify(server: LogServer, s: Signed, entry: IdentifiedLogEntry, withSet: boolean): void {
  const root = TrustedRoot.fromJSON(trustedRoot(server.url, logKey(server), server.logId));
  const material = toTrustMaterial(root, () => ({ publicKey: s.publicKey, validFor: () => true }));
  const bundle = publicKeyBundle(entry, s.digest, s.signature, HINT) as {
    verificationMaterial: { tlogEntries: Record<string, unknown>[] };
  };
  if (!withSet) delete bundle.verificationMaterial.tlogEntries[0]!.inclusionPromise;
  const verifier = new Verifier(material, {
    tlogThreshold: 1,
    ctlogThreshold: 0,
    timestampThreshold: withSet ? 1 : 0,
  });
  verifier.verify(toSignedEntity(bundleFromJSON(bundle), s.data));
}

test('@sigstore/verify 3.1.1 accepts bundles whose entry lives in the frozen shard and in the active one', async (t) => {
  const oldSigned = hashedRekord(Buffer.from('artifact of the first tree'));
  let oldAtCreation: IdentifiedLogEntry | undefined;
  const { server } = await rotatedAfter(t, async (s) => {
    await grow(s, 3);
    oldAtCreation = await createEntry(s.url, oldSigned.entry);
    await grow(s, 2);
  });
  assert.ok(oldAtCreation);
  await grow(server, 2);
  const newSigned = hashedRekord(Buffer.from('artifact of the second tree'));
  const fresh = await createEntry(server.url, newSigned.entry);
  await grow(server, 2);
  assert.equal(oldAtCreation.logIndex, 3);
  assert.equal(fresh.logIndex, 6 + 2);
  assert.equal(fresh.verification.inclusionProof.logIndex, 2);

  const oldNow = only(
    (await getJson<Record<string, never>>(`${server.url}/api/v1/log/entries/${oldAtCreation.uuid}`)).json,
  );
  const freshNow = only(
    (await getJson<Record<string, never>>(`${server.url}/api/v1/log/entries?logIndex=${fresh.logIndex}`))
      .json,
  );
  assert.equal(
    oldNow.verification.inclusionProof.treeSize,
    6,
    'proven against the final checkpoint of the frozen shard',
  );
  // SET (global logIndex) and inclusion proof (shard-local index, shard checkpoint), each alone and together.
  for (const [s, e] of [
    [oldSigned, oldAtCreation],
    [oldSigned, oldNow],
    [newSigned, fresh],
    [newSigned, freshNow],
  ] as const) {
    verify(server, s, e, true);
    verify(server, s, e, false);
  }

  // The indexes are not interchangeable: a SET over the shard-local index or a proof at the global one fails.
  const localInSet = { ...freshNow, logIndex: freshNow.verification.inclusionProof.logIndex };
  assert.throws(
    () => verify(server, newSigned, localInSet, true),
    (e: { code?: string }) => e.code === 'TLOG_INCLUSION_PROMISE_ERROR',
  );
  const globalInProof = {
    ...freshNow,
    verification: {
      ...freshNow.verification,
      inclusionProof: { ...freshNow.verification.inclusionProof, logIndex: freshNow.logIndex },
    },
  };
  assert.throws(
    () => verify(server, newSigned, globalInProof, false),
    (e: { code?: string }) => e.code === 'TLOG_INCLUSION_PROOF_ERROR',
  );
});
