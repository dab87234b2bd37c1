import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { sha256, spkiDer } from '../../src/crypto/index.js';
import { ecdsaKeyHint, formatCheckpoint, signNote } from '../../src/bundle/index.js';
import { createTrustMaterial, type LogKey, type TrustMaterial } from '../../src/verify/index.js';

/** A P-256 log of our own at https://log.example, alone in a trusted root, and a checkpoint signer. */
export function ownLog(): {
  privateKey: KeyObject;
  trust: TrustMaterial;
  keys: LogKey[];
  checkpoint: (origin: string, size?: number) => string;
} {
  const log = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const logId = sha256(spkiDer(log.publicKey));
  const trust = createTrustMaterial({
    mediaType: 'application/vnd.dev.sigstore.trustedroot.v0.2+json',
    tlogs: [
      {
        baseUrl: 'https://log.example',
        hashAlgorithm: 'SHA2_256',
        publicKey: {
          rawBytes: spkiDer(log.publicKey).toString('base64'),
          keyDetails: 'PKIX_ECDSA_P256_SHA_256',
          validFor: { start: '2020-01-01T00:00:00Z' },
        },
        logId: { keyId: logId.toString('base64') },
      },
    ],
    certificateAuthorities: [],
    ctlogs: [],
    timestampAuthorities: [],
  });
  const checkpoint = (origin: string, size = 1): string =>
    signNote(
      formatCheckpoint({ origin, size, rootHash: Buffer.alloc(32, 7), extensions: [] }),
      'log.example',
      log.privateKey,
      ecdsaKeyHint(log.publicKey),
    );
  return { privateKey: log.privateKey, trust, keys: trust.tlogs.get(logId.toString('hex'))!, checkpoint };
}
